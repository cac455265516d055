/**
 * Snapshot signatures as ScheduledBackup writes them (constructs/kit/assets/snapshot-mac.sh), made
 * here with Node's crypto: HMAC-SHA256 of "<file name>\n" and the file's bytes, in "<file>.hmac".
 * Tests give the scripts a key file (BACKUP_SIGNING_KEY_FILE) and sign the snapshots they plant.
 */
import { createHmac } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";

/** 64 letters and digits, as a GeneratedSecret of 64; its "6"s XOR the inner pad (0x36) to NUL bytes. */
export const TEST_SIGNING_KEY = "6a6B6c6D6e6F6g6H6i6J6k6L6m6N6o6P6q6R6s6T6u6V6w6X6y6Z601234567896";

/** Writes the key into `dir` (0600) and returns its path. */
export function writeSigningKey(dir: string, key = TEST_SIGNING_KEY): string {
  const file = join(dir, "backup_signing_key");
  writeFileSync(file, key, { mode: 0o600 });
  return file;
}

/** The hex signature of the file at `path` stored under `name` (its own file name by default). */
export function snapshotMac(path: string, key = TEST_SIGNING_KEY, name = basename(path)): string {
  return createHmac("sha256", key).update(`${name}\n`).update(readFileSync(path)).digest("hex");
}

/** Signs the snapshot at `path` as the backup job does: `<path>.hmac`. */
export function signSnapshot(path: string, key = TEST_SIGNING_KEY, name = basename(path)): void {
  writeFileSync(`${path}.hmac`, `hmac-sha256 ${snapshotMac(path, key, name)}\n`, { mode: 0o600 });
}
