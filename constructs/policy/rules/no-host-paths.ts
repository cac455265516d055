import { relativeHostPath, relativeHostPathRisk } from "../expressions";
import { exposesDockerSocket, normalizeHostPath, sensitiveHostPath } from "../normalize";
import type { PolicyRule } from "../types";
import { bindsOf, MOUNTING } from "./helpers";

const PROPAGATING = ["shared", "rshared"];

export const noHostPaths: PolicyRule = {
  id: "no-host-paths",
  level: "error",
  title: "No binds of sensitive host paths; no host binds at all on Swarm or from the checkout outside dev",
  why: "a bind of /, /proc, /sys, /dev, /etc, /var/lib/docker (or anything below or above them) hands the host to the container even read-only (host secrets, other containers' environments, image layers), a shared propagation pushes the container's mounts onto the host, and Swarm nodes differ in what a host path holds",
  fix: "use named volumes; bind only dedicated, non-system directories (dev: the service's source directory next to the checkout); never bind host paths into Swarm services. A bind relative to the stack directory must not climb to / or pass through a directory named like a sensitive host path (home, lib64, snap, var ...).",
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
