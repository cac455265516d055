import { relativeHostPath, relativeHostPathRisk, shorten } from "../expressions";
import { blocks, describe } from "../json";
import { exposesDockerSocket, normalizeHostPath, sensitiveHostPath } from "../normalize";
import type { PolicyRule, RuleContext } from "../types";
import { bindsOf, MOUNTING } from "./helpers";

const PROPAGATING = ["shared", "rshared"];

/**
 * A docker_image build reads host files on the machine that applies: the whole context directory
 * (sent to the engine, where a RUN step can send it anywhere) and the Dockerfile. Only what
 * ServiceImage writes is accepted: both relative to the stack directory and clear of sensitive
 * directories (the same test as a relative bind); and, like a bind of the checkout, only in dev. A
 * plain "Dockerfile" is no shorter way: the provider reads it from Terraform's working directory
 * (the stack directory, with its state and .terraform), not from the context.
 */
function buildProblems(image: Record<string, unknown>, ctx: RuleContext): string[] {
  const what = describe(image, "docker_image");
  const problems: string[] = [];
  blocks(image.build).forEach((b, i) => {
    const at = Array.isArray(image.build) ? `build[${i}]` : "build";
    if (ctx.environment !== "dev")
      problems.push(`${what} builds from a directory of the checkout (${at}) outside dev: pull an image pinned by digest`);
    for (const key of ["context", "dockerfile"]) {
      const value = b[key];
      if (value === undefined || value === null) continue;
      const rel = relativeHostPath(value);
      if (rel) {
        const risk = relativeHostPathRisk(rel, ctx.stackJson);
        if (risk) problems.push(`${what} reads ${at}.${key} from a path relative to the stack directory that ${risk} (${value})`);
        continue;
      }
      problems.push(
        `${what} reads ${at}.${key} = ${shorten(JSON.stringify(value))}, a host path the policy cannot place: write it relative to the stack directory (\${abspath(join("/", [path.root, ...]))})`,
      );
    }
  });
  return problems;
}

export const noHostPaths: PolicyRule = {
  id: "no-host-paths",
  level: "error",
  title:
    "No binds of sensitive host paths; no host binds at all on Swarm or from the checkout outside dev; image builds read only the checkout, in dev",
  why: "a bind of /, /proc, /sys, /dev, /etc, /var/lib/docker (or anything below or above them) hands the host to the container even read-only (host secrets, other containers' environments, image layers), a shared propagation pushes the container's mounts onto the host, and Swarm nodes differ in what a host path holds; a docker_image build sends its whole context directory (and reads its Dockerfile) from the machine that applies to the engine, where any RUN step can copy or send it anywhere",
  fix: "use named volumes; bind only dedicated, non-system directories (dev: the service's source directory next to the checkout); never bind host paths into Swarm services. A bind relative to the stack directory must not climb to / or pass through a directory named like a sensitive host path (home, lib64, snap, var ...); the same holds for a docker_image's build.context and build.dockerfile (both written relative to the stack directory, as ServiceImage does), and images are built in dev only.",
  appliesTo: [...MOUNTING, "docker_image"],
  check(resource, ctx, type) {
    if (type === "docker_image") return buildProblems(resource, ctx);
    const { what, w, binds, problems } = bindsOf(resource, type, ctx);
    for (const b of binds) {
      const how = b.via === "bind" ? "binds" : "binds through volume driver options";
      if (w?.kind === "service") {
        problems.push(`${what} ${how} host path "${b.hostPath}" into a Swarm service`);
        continue;
      }
      // Propagation first: it matters for a bind of the checkout as much as for an absolute path.
      if (b.propagation && PROPAGATING.includes(b.propagation.trim().toLowerCase()))
        problems.push(
          `${what} ${how} "${b.hostPath}" with ${b.propagation} propagation (its mounts reach the host): remove bind_options.propagation`,
        );
      const rel = relativeHostPath(b.hostPath);
      if (rel) {
        const risk = relativeHostPathRisk(rel, ctx.stackJson);
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
      if (exposesDockerSocket(p)) continue; // no-docker-socket reports it
      const sensitive = sensitiveHostPath(p);
      if (!sensitive) continue;
      const message = `${what} ${how} "${b.hostPath}" (${normalizeHostPath(p)}${b.readOnly ? ", read-only" : ", read-write"}), which reaches the host's ${sensitive}`;
      // A plain bind names its host path, which a suppression may be limited to; driver options never do.
      problems.push(b.via === "bind" ? { message, subject: normalizeHostPath(p) } : message);
    }
    return problems;
  },
};
