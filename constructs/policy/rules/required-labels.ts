import { COMPONENTS, LABELS } from "../../contract/index";
import { blocks, describe, labelsOf } from "../json";
import type { PolicyRule } from "../types";
import { WORKLOADS } from "./helpers";

export const requiredLabels: PolicyRule = {
  id: "required-labels",
  level: "error",
  title: "Containers and services carry the UpdateIO labels",
  why: "the log shipper, the review report and some rules read these labels; an unlabelled container escapes them (exemptions never rest on a label alone)",
  fix: `create containers and services through the service kit, or set ${LABELS.project}, ${LABELS.environment}, ${LABELS.service} and ${LABELS.component}.`,
  appliesTo: WORKLOADS,
  check(c, ctx, type) {
    const what = describe(c, type === "docker_service" ? "service" : "container");
    const labels = labelsOf(c);
    const problems: string[] = [];
    // A label set twice has no defined winner (the provider stores labels as a set).
    const keys = blocks(c.labels).map((l) => String(l.label));
    for (const dup of new Set(keys.filter((k, i) => keys.indexOf(k) !== i))) problems.push(`${what} sets label ${dup} more than once`);
    const project = labels.get(LABELS.project);
    if (project !== "updateio")
      problems.push(`${what} has ${LABELS.project} = ${project === undefined ? "unset" : `"${project}"`} (expected "updateio")`);
    const env = labels.get(LABELS.environment);
    if (env !== ctx.environment)
      problems.push(`${what} has ${LABELS.environment} = ${env === undefined ? "unset" : `"${env}"`} in the ${ctx.environment} stack`);
    if (!labels.get(LABELS.service)) problems.push(`${what} has no ${LABELS.service} label`);
    const component = labels.get(LABELS.component);
    if (!component || !(COMPONENTS as readonly string[]).includes(component)) {
      problems.push(
        `${what} has ${LABELS.component} = ${component === undefined ? "unset" : `"${component}"`} (expected one of ${COMPONENTS.join(", ")})`,
      );
    }
    return problems;
  },
};
