import { DOCKER_SOCKET_PROXY_ROLE, LABELS } from "../../contract/index";
import { relativeHostPath } from "../expressions";
import { exposesDockerSocket, isSocketPath, normalizeHostPath } from "../normalize";
import type { PolicyRule } from "../types";
import { bindsOf, isSocketProxy, MOUNTING } from "./helpers";

export const noDockerSocket: PolicyRule = {
  id: "no-docker-socket",
  level: "error",
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
