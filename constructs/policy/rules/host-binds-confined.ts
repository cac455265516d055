import { relativeHostPath, shorten } from "../expressions";
import { blocks } from "../json";
import { exposesDockerSocket, sensitiveHostPath } from "../normalize";
import type { PolicyRule } from "../types";
import { hostBinds } from "../workload";
import { isLocalProbe, onWorkload, WORKLOADS } from "./helpers";

const PROPAGATING = ["shared", "rshared"];

/**
 * A bind of a host system path (node-exporter's /, cAdvisor's /proc, /sys and layer database, the
 * socket proxy's socket) passes only under a suppression of no-host-paths or no-docker-socket
 * limited to one image, whose reason is what that image's program does with a read-only view. That
 * suppression covers its whole rule, so what keeps the reason true is checked here: the binds stay
 * read-only (cAdvisor runs as uid 0, which owns /etc/passwd), and nothing but the image's program
 * runs beside them (a shell would read, through the bind, whatever the host leaves readable).
 */
export const hostBindsConfined: PolicyRule = {
  id: "host-binds-confined",
  level: "error",
  title: "A workload that binds host system paths binds them read-only and runs only its image's program",
  why: "a bind of /, /proc, /sys, /etc or the Docker socket is allowed only by a suppression limited to one image, on the strength of what that image's program does with a read-only view; a read-write bind lets a uid-0 container rewrite host files it owns (/etc/passwd), a shared propagation pushes its mounts onto the host, and an entrypoint of our choosing or a healthcheck command (it runs in the same container, with the same binds) runs anything else there, such as a shell that reads the host's files through the bind and sends them away",
  fix: 'bind host system paths read-only without bind_options.propagation, leave `entrypoint` unset (task_spec.container_spec.command on services) so the image runs its own program (`command` passes it arguments), and give it a healthcheck of the form ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:<port>/<path>"] (or none).',
  appliesTo: WORKLOADS,
  check: onWorkload((w) => {
    const system = hostBinds(w).filter(
      (b) =>
        typeof b.hostPath === "string" &&
        relativeHostPath(b.hostPath) === undefined &&
        (sensitiveHostPath(b.hostPath) !== undefined || exposesDockerSocket(b.hostPath)),
    );
    if (system.length === 0) return [];
    const problems: string[] = [];
    for (const b of system) {
      if (!b.readOnly) problems.push(`${w.name} binds host path ${JSON.stringify(b.hostPath)} read-write (${b.path})`);
      if (b.propagation !== undefined && PROPAGATING.includes(b.propagation.trim().toLowerCase()))
        problems.push(`${w.name} binds host path ${JSON.stringify(b.hostPath)} with ${b.propagation} propagation (${b.path})`);
    }
    const why = `it binds host path ${JSON.stringify(system[0]!.hostPath)} (${system[0]!.path})`;
    const entrypointPath = w.kind === "container" ? "entrypoint" : `${w.specPath}command`;
    const entrypoint = w.kind === "container" ? w.resource.entrypoint : w.spec.command;
    if (entrypoint !== undefined && entrypoint !== null && !(Array.isArray(entrypoint) && entrypoint.length === 0))
      problems.push(`${w.name} replaces its image's program with ${entrypointPath} = ${shorten(JSON.stringify(entrypoint))}, and ${why}`);
    const test = blocks(w.healthcheck.value)[0]?.test;
    if (test !== undefined && !isLocalProbe(test))
      problems.push(`${w.name} runs ${w.healthcheck.path}.test ${shorten(JSON.stringify(test))} beside its image's program, and ${why}`);
    return problems;
  }),
};
