import { statSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { SAFE_PATH } from "./variables";

/** Build contexts are relative to the project root (this file's parent folder), whatever the cwd: as projectPath writes them for Terraform. */
export const PROJECT_ROOT = resolve(__dirname, "..");

/** The folder dev builds every service from when UPDATEIO_DEV_SOURCE_ROOT is unset (relative to the project root). */
export const REFERENCE_SERVICE = "examples/reference-service";

/** An absolute path for a context or file as the stack means it: absolute as written, else under the project root. */
export function fromProjectRoot(path: string): string {
  return isAbsolute(path) ? path : resolve(PROJECT_ROOT, path);
}

/** A Dockerfile path that stays inside its build context: relative, no ".." segment. */
export function isInsideContext(path: string): boolean {
  return !path.startsWith("/") && !path.split("/").includes("..");
}

const kind = (path: string): "dir" | "file" | "other" | undefined => {
  try {
    const st = statSync(path);
    return st.isDirectory() ? "dir" : st.isFile() ? "file" : "other";
  } catch {
    return undefined;
  }
};

/**
 * A build image's context and Dockerfile must exist at synth: otherwise synth passes and the plan
 * fails on filesha256 with no hint. Returns [key under image, message] pairs ([] for a registry
 * image or a path the schema refuses anyway). `env` adds the dev hint (UPDATEIO_DEV_SOURCE_ROOT).
 */
export function buildSourceProblems(image: unknown, env?: unknown): [string, string][] {
  if (image === null || typeof image !== "object") return [];
  const { kind: imageKind, context, dockerfile = "Dockerfile" } = image as Record<string, unknown>;
  if (imageKind !== "build" || typeof context !== "string" || typeof dockerfile !== "string") return [];
  if (!SAFE_PATH.test(context) || !SAFE_PATH.test(dockerfile) || !isInsideContext(dockerfile)) return [];
  const hint =
    env === "dev"
      ? ` (dev: UPDATEIO_DEV_SOURCE_ROOT names the folder holding the service checkouts, absolute or relative to this project; unset it to build every service from ${REFERENCE_SERVICE})`
      : "";
  const dir = fromProjectRoot(context);
  const found = kind(dir);
  if (found !== "dir")
    return [
      [
        "context",
        `folder "${context}" (${dir}) ${found === undefined ? "does not exist" : "is not a folder"}: check the service's source out there, or point the context at its checkout${hint}`,
      ],
    ];
  const file = resolve(dir, dockerfile);
  if (kind(file) !== "file")
    return [
      [
        "dockerfile",
        `"${context}" has no ${dockerfile} (${file}): add one with a "dev" stage (copy ${REFERENCE_SERVICE}/Dockerfile, README "The service contract"), or fix the path${hint}`,
      ],
    ];
  return [];
}
