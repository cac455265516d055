/**
 * Rules about what a workload mounts: the Docker socket, host paths (also through volumes whose
 * driver options bind them), other containers' volumes, and volumes the stack does not declare.
 */
import { relativeHostPath, relativeHostPathRisk } from "../expressions";
import { block, blocks, describe, isExpression, isRecord, parseRef } from "../json";
import { exposesDockerSocket, isSocketPath, normalizeHostPath, plain, sensitiveHostPath } from "../normalize";
import { everywhere, type PolicyRule, type RuleContext } from "../types";
import { bindLikeDevice, hostBinds, workloadOf, type HostBind, type Workload } from "../workload";
import { DOCKER_SOCKET_PROXY_ROLE, isSocketProxy, LABELS, valueAt } from "./common";

const MOUNTING = ["docker_container", "docker_service", "docker_volume"] as const;

/** Host paths a docker_volume binds through its driver options (`type=none, o=bind, device=/x`). */
function volumeBinds(v: Record<string, unknown>): HostBind[] {
  const device = bindLikeDevice(v.driver_opts);
  return device === undefined ? [] : [{ path: "driver_opts.device", hostPath: device, readOnly: false, via: "volume driver options" }];
}

/** Literal binds of a resource, with expressions the policy cannot judge reported. */
function bindsOf(
  resource: Record<string, unknown>,
  type: string,
  ctx: RuleContext,
): { what: string; w?: Workload; binds: HostBind[]; problems: string[] } {
  const w = workloadOf(resource, type);
  const what = w ? w.name : describe(resource, type);
  const all = w ? hostBinds(w) : volumeBinds(resource);
  const binds: HostBind[] = [];
  const problems: string[] = [];
  for (const b of all) {
    if (relativeHostPath(b.hostPath)) {
      binds.push(b);
      continue;
    }
    const v = valueAt(type, b.path, b.hostPath, ctx, what);
    if (v.kind === "problem") problems.push(v.problem);
    else if (v.kind === "value" && typeof v.value === "string") binds.push({ ...b, hostPath: v.value });
  }
  return { what, w, binds, problems };
}

export const noDockerSocket: PolicyRule = {
  id: "no-docker-socket",
  severity: everywhere("error"),
  title: "Nobody mounts the Docker socket except the read-only socket proxy",
  why: "access to the Docker socket is root on the host (start a privileged container, mount /)",
  fix: `read Docker metadata through the socket proxy (image tecnativa/docker-socket-proxy, label ${LABELS.role} = "${DOCKER_SOCKET_PROXY_ROLE}", socket mounted read-only, API filtered); never mount the socket or a directory holding it elsewhere, not even through a volume's driver options.`,
  appliesTo: MOUNTING,
  check(resource, ctx, type) {
    const { what, w, binds } = bindsOf(resource, type, ctx);
    const problems: string[] = [];
    const proxy = w !== undefined && w.kind === "container" && isSocketProxy(w, ctx.stackJson);
    for (const b of binds) {
      if (relativeHostPath(b.hostPath)) continue; // judged by no-host-paths
      if (!exposesDockerSocket(b.hostPath)) continue;
      const itself = isSocketPath(b.hostPath);
      if (proxy && b.readOnly && itself && b.via === "bind") continue;
      const how = b.via === "bind" ? "mounts" : "binds through volume driver options";
      problems.push(
        proxy
          ? `docker socket proxy ${what} ${how} "${b.hostPath}"${b.readOnly ? "" : " read-write"}${itself ? "" : " (a whole directory that contains the socket)"}`
          : `${what} ${how} "${b.hostPath}" (${normalizeHostPath(b.hostPath)}), which exposes the Docker socket`,
      );
    }
    return problems;
  },
};

const PROPAGATING = ["shared", "rshared"];
export const noHostPaths: PolicyRule = {
  id: "no-host-paths",
  severity: everywhere("error"),
  title: "No binds of sensitive host paths; no host binds at all on Swarm or from the checkout outside dev",
  why: "a bind of /, /proc, /sys, /dev, /etc, /var/lib/docker (or anything below or above them) hands the host to the container even read-only (host secrets, other containers' environments, image layers), a shared propagation pushes the container's mounts onto the host, and Swarm nodes differ in what a host path holds",
  fix: "use named volumes; bind only dedicated, non-system directories (dev: the service's source directory next to the checkout); never bind host paths into Swarm services.",
  appliesTo: MOUNTING,
  check(resource, ctx, type) {
    const { what, w, binds, problems } = bindsOf(resource, type, ctx);
    for (const b of binds) {
      const how = b.via === "bind" ? "binds" : "binds through volume driver options";
      if (w?.kind === "service") {
        problems.push(`${what} ${how} host path "${b.hostPath}" into a Swarm service`);
        continue;
      }
      const rel = relativeHostPath(b.hostPath);
      if (rel) {
        const risk = relativeHostPathRisk(rel);
        if (risk) problems.push(`${what} ${how} a path relative to the stack directory that ${risk} (${b.hostPath})`);
        else if (ctx.environment !== "dev") problems.push(`${what} ${how} a directory of the checkout (${b.hostPath}) outside dev`);
        continue;
      }
      const p = b.hostPath.trim();
      if (/[:,\0]/.test(p)) {
        // The provider joins binds as "source:target:mode": a colon in the source rewrites the rest.
        problems.push(`${what} ${how} "${b.hostPath}", whose ":" or "," would be read as bind syntax`);
        continue;
      }
      if (!p.startsWith("/")) {
        problems.push(`${what} ${how} "${b.hostPath}", which is not an absolute host path`);
        continue;
      }
      if (b.propagation && PROPAGATING.includes(b.propagation.trim().toLowerCase()))
        problems.push(`${what} ${how} "${p}" with ${b.propagation} propagation (its mounts reach the host)`);
      if (exposesDockerSocket(p)) continue; // no-docker-socket reports it
      const sensitive = sensitiveHostPath(p);
      if (sensitive)
        problems.push(
          `${what} ${how} "${b.hostPath}" (${normalizeHostPath(p)}${b.readOnly ? ", read-only" : ", read-write"}), which reaches the host's ${sensitive}`,
        );
    }
    return problems;
  },
};

export const noVolumesFrom: PolicyRule = {
  id: "no-volumes-from",
  severity: everywhere("error"),
  title: "No volumes inherited from other containers",
  why: "volumes_from copies every mount of another container, including binds and the socket, past the checks on this one",
  fix: "mount the named volumes this container needs explicitly.",
  appliesTo: "docker_container",
  check(resource) {
    const w = workloadOf(resource, "docker_container")!;
    return blocks(resource.volumes)
      .filter((v) => v.from_container !== undefined && v.from_container !== "")
      .map((v) => `${w.name} takes the volumes of ${JSON.stringify(v.from_container)} (volumes.from_container)`);
  },
};

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
  severity: everywhere("error"),
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
    const declaredNames = new Set(
      Object.values(ctx.stackJson.resource?.docker_volume ?? {})
        .map((v) => v.name)
        .filter((n) => typeof n === "string"),
    );
    if (w.kind === "container") {
      blocks(resource.volumes).forEach((v, i) => {
        const name = plain(v.volume_name);
        if (typeof name !== "string" || name === "" || isExpression(name) || /^[/.~]/.test(name.trim())) return; // references and paths: other rules
        if (!declaredNames.has(name))
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
      if (w.kind === "container" && typeof source === "string" && !isExpression(source) && !declaredNames.has(source)) {
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

export const MOUNT_RULES: readonly PolicyRule[] = [noDockerSocket, noHostPaths, noVolumesFrom, plainVolumes];
