import { copyFileSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";

/** The project root, as build contexts are resolved from it. */
export const PROJECT_ROOT = resolve(__dirname, "../..");

/** The folders dev builds under UPDATEIO_DEV_SOURCE_ROOT, one per app service (api, discord-bot, ...). */
export const DEV_SOURCE_FOLDERS = ["api", "discord-bot", "telegram-bot", "admin-panel", "mini-app"] as const;

/**
 * A stand-in for the UpdateIO checkouts under `root`: each service folder with the reference
 * service's Dockerfile, so synth's check that every build context and Dockerfile exists passes.
 */
export function fakeSourceRoot(root: string, folders: readonly string[] = DEV_SOURCE_FOLDERS): string {
  for (const folder of folders) {
    mkdirSync(join(root, folder), { recursive: true });
    copyFileSync(join(PROJECT_ROOT, "examples/reference-service/Dockerfile"), join(root, folder, "Dockerfile"));
  }
  return root;
}
