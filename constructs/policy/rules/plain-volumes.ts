import { block, blocks, declaredNames, describe, isExpression, isRecord, parseRef } from "../json";
import { plain } from "../normalize";
import type { PolicyRule } from "../types";
import { workloadOf } from "../workload";
import { MOUNTING } from "./helpers";

/** Driver options of a plain tmpfs volume: harmless. */
function isTmpfsOptions(opts: Record<string, unknown>): boolean {
  const t = (k: string) =>
    String(plain(opts[k]) ?? "")
      .trim()
      .toLowerCase();
  return (
    t("type") === "tmpfs" &&
    t("device") === "tmpfs" &&
    Object.keys(opts).every((k) => ["type", "device", "o"].includes(k)) &&
    !/bind/.test(t("o"))
  );
}

export const plainVolumes: PolicyRule = {
  id: "plain-volumes",
  level: "error",
  title: "Volumes are plain local volumes declared in this stack",
  why: "driver options can turn a volume into a bind of any host path or a mount of a remote filesystem, and a volume the stack does not declare may have been created that way outside Terraform",
  fix: "declare every volume as a docker_volume of this stack without driver or driver_opts (a tmpfs volume may set type=tmpfs/device=tmpfs), and mount it by reference.",
  appliesTo: MOUNTING,
  check(resource, ctx, type) {
    const problems: string[] = [];
    if (type === "docker_volume") {
      const what = describe(resource, type);
      const driver = plain(resource.driver);
      if (driver !== undefined && driver !== "local") problems.push(`${what} uses volume driver ${JSON.stringify(resource.driver)}`);
      const opts = plain(resource.driver_opts);
      if (isExpression(opts)) problems.push(`${what} has driver_opts built from an expression, which the policy cannot judge`);
      else if (isRecord(opts) && Object.keys(opts).length > 0 && !isTmpfsOptions(opts))
        problems.push(`${what} sets driver_opts ${JSON.stringify(opts)}`);
      return problems;
    }
    const w = workloadOf(resource, type)!;
    const volumeNames = declaredNames(ctx.stackJson, "docker_volume");
    if (w.kind === "container") {
      blocks(resource.volumes).forEach((v, i) => {
        const name = plain(v.volume_name);
        if (typeof name !== "string" || name === "" || isExpression(name) || /^[/.~]/.test(name.trim())) return; // references and paths: other rules
        if (!volumeNames.has(name))
          problems.push(`${w.name} mounts volume ${JSON.stringify(name)} (volumes[${i}].volume_name), which this stack does not declare`);
      });
    }
    blocks(w.spec.mounts).forEach((m, i) => {
      const mtype = String(plain(m.type) ?? "")
        .trim()
        .toLowerCase();
      if (mtype !== "volume") return;
      const vo = block(m.volume_options);
      const driver = plain(vo.driver_name);
      if (driver !== undefined && driver !== "local")
        problems.push(`${w.name} mounts a volume with driver ${JSON.stringify(vo.driver_name)} (${w.specPath}mounts[${i}])`);
      const opts = plain(vo.driver_options);
      if (isRecord(opts) && Object.keys(opts).length > 0 && !isTmpfsOptions(opts))
        problems.push(`${w.name} creates a volume with driver options ${JSON.stringify(opts)} (${w.specPath}mounts[${i}])`);
      const source = m.source;
      if (w.kind === "container" && typeof source === "string" && !isExpression(source) && !volumeNames.has(source)) {
        problems.push(
          `${w.name} mounts volume ${JSON.stringify(source)} (${w.specPath}mounts[${i}].source), which this stack does not declare`,
        );
      }
      if (w.kind === "service" && source !== undefined)
        problems.push(`${w.name} mounts volume ${JSON.stringify(source)} into a Swarm service (volumes are per node)`);
      if (isExpression(source) && !parseRef(source))
        problems.push(`${w.name} mounts a volume named by the expression ${source}, which the policy cannot judge`);
    });
    return problems;
  },
};
