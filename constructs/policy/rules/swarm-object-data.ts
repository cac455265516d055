import { judge } from "../expressions";
import { block, describe, isExpression } from "../json";
import type { PolicyRule } from "../types";

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export const swarmObjectData: PolicyRule = {
  id: "swarm-object-data",
  level: "error",
  title: "Swarm secrets take generated data through base64encode(); configs are base64",
  why: "a secret written as a literal sits in the synthesized JSON and the repository, and data that is not the canonical base64 the engine reads back never settles (every plan replaces the object)",
  fix: "set a docker_secret's data to base64encode(<random_password.x.result | var.x | local.x>) and a docker_config's data to the canonical base64 of its content (or base64encode(...)).",
  appliesTo: ["docker_secret", "docker_config"],
  check(resource, ctx, type) {
    const what = describe(resource, type);
    const data = resource.data;
    if (typeof data !== "string" || data === "") return [`${what} has no data`];
    if (isExpression(data)) {
      const j = judge(type, "data", data, ctx);
      if (j.kind === "unjudgeable") return [`${what} has data ${data}, which is not base64encode() of a generated value`];
      // base64encode(local.x / var.x) is only generated when the local is not a literal and the
      // variable has no default: otherwise the value sits in the JSON all the same.
      const m = /^\$\{base64encode\((local|var)\.([A-Za-z0-9_-]+)\)\}$/.exec(data.trim());
      if (type === "docker_secret" && m) {
        const holder =
          m[1] === "local"
            ? (ctx.stackJson.locals as Record<string, unknown> | undefined)?.[m[2]!]
            : block((ctx.stackJson.variable as Record<string, unknown> | undefined)?.[m[2]!]).default;
        if (m[1] === "local" && typeof holder === "string" && !isExpression(holder))
          return [`${what} takes its value from local.${m[2]}, which is a literal in the JSON`];
        if (m[1] === "var" && holder !== undefined)
          return [`${what} takes its value from var.${m[2]}, whose default is written in the JSON`];
      }
      return [];
    }
    if (type === "docker_secret") return [`${what} has its value written as a literal into the JSON`];
    return BASE64.test(data) ? [] : [`${what} has data that is not canonical base64`];
  },
};
