/**
 * The snapshot signatures' HMAC-SHA256, written out in POSIX sh (constructs/kit/assets/snapshot-mac.sh)
 * because the stores' images carry sha256sum and od but no HMAC tool: checked against RFC 4231's
 * test vectors and Node's crypto, with the machine's sh and with busybox sh and busybox's own od,
 * sha256sum and cut (what the Alpine images run).
 */
import { spawnSync } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { snapshotMacFunctions } from "../../constructs/kit/scheduled-backup-script";
import { describeIf, requireBinary } from "../support/binaries";
import { signSnapshot, snapshotMac, TEST_SIGNING_KEY, writeSigningKey } from "../support/snapshot-signing";

const root = mkdtempSync(join(tmpdir(), "updateio-snapshot-mac-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const functions = join(root, "snapshot-mac.sh");
writeFileSync(functions, snapshotMacFunctions());

const busybox = requireBinary("busybox");
/** busybox's applets only, for the tools the functions call. */
function busyboxBin(): string {
  const dir = join(root, "busybox-bin");
  mkdirSync(dir, { recursive: true });
  for (const tool of ["od", "sha256sum", "cut", "cat", "tr", "sed", "head", "wc"]) {
    try {
      symlinkSync(busybox.path!, join(dir, tool));
    } catch {
      // already linked by an earlier test
    }
  }
  return dir;
}

const SHELLS = [
  {
    name: "sh",
    requirement: requireBinary("sh"),
    run: (cmd: string) => spawnSync("sh", ["-c", `. ${functions}; ${cmd}`], { encoding: "utf8" }),
  },
  {
    name: "busybox sh with busybox's tools",
    requirement: busybox,
    run: (cmd: string) =>
      spawnSync(busybox.path!, ["sh", "-c", `. ${functions}; ${cmd}`], { encoding: "utf8", env: { PATH: busyboxBin() } }),
  },
];

let files = 0;
function file(content: string | Buffer): string {
  const path = join(root, `f${++files}`);
  writeFileSync(path, content);
  return path;
}

for (const shell of SHELLS) {
  describeIf(shell.requirement, `snapshot-mac.sh with ${shell.name}`, () => {
    it.each([
      // RFC 4231, test cases 1, 2 and 4 (keys shorter than a block).
      ["case 1", Buffer.alloc(20, 0x0b), "Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"],
      ["case 2", Buffer.from("Jefe"), "what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"],
      [
        "case 4",
        Buffer.from(Array.from({ length: 25 }, (_, i) => i + 1)),
        Buffer.alloc(50, 0xcd),
        "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
      ],
    ] as const)("hmac_sha256 gives RFC 4231 %s", (_name, key, data, expected) => {
      const r = shell.run(`hmac_sha256 ${file(key)} < ${file(data)}`);
      expect(r.stderr).toBe("");
      expect(r.stdout.trim()).toBe(expected);
    });

    it("signs a snapshot as Node's crypto does: a 64-byte key whose 6s XOR the pad to NUL, 300 KiB of random bytes", () => {
      const dir = join(root, `k${++files}`);
      mkdirSync(dir);
      const key = writeSigningKey(dir);
      const snapshot = file(randomBytes(300 * 1024));
      const name = "redis-20261207T000000Z.rdb";
      const r = shell.run(`snapshot_mac ${key} ${name} ${snapshot}`);
      expect(r.stderr).toBe("");
      expect(r.stdout.trim()).toBe(createHmac("sha256", TEST_SIGNING_KEY).update(`${name}\n`).update(readFileSync(snapshot)).digest("hex"));
      expect(r.stdout.trim()).toBe(snapshotMac(snapshot, TEST_SIGNING_KEY, name));
    });

    it("snapshot_signed: true for the job's signature under the file's own name, false when the name, a byte or the key differs", () => {
      const dir = join(root, `s${++files}`);
      mkdirSync(dir);
      const key = writeSigningKey(dir);
      const snapshot = join(dir, "edge-20261207T000000Z.tar.gz");
      writeFileSync(snapshot, "certificates");
      signSnapshot(snapshot);
      expect(shell.run(`snapshot_signed ${key} ${snapshot}`).status).toBe(0);
      // The same bytes under a newer name, with the same signature.
      const renamed = join(dir, "edge-20271207T000000Z.tar.gz");
      writeFileSync(renamed, "certificates");
      signSnapshot(renamed, TEST_SIGNING_KEY, "edge-20261207T000000Z.tar.gz");
      expect(shell.run(`snapshot_signed ${key} ${renamed}`).status).toBe(1);
      writeFileSync(snapshot, "certificateS");
      expect(shell.run(`snapshot_signed ${key} ${snapshot}`).status).toBe(1);
      writeFileSync(snapshot, "certificates");
      const other = join(dir, "other-key");
      writeFileSync(other, "A".repeat(64));
      expect(shell.run(`snapshot_signed ${other} ${snapshot}`).status).toBe(1);
      expect(shell.run(`snapshot_signed ${key} ${join(dir, "missing.tar.gz")}`).status).toBe(1);
      // Under a name given in place of the file's own (a path below the volume, as Postgres signs).
      signSnapshot(snapshot, TEST_SIGNING_KEY, "base/20261207T000000Z/edge.tar.gz");
      expect(shell.run(`snapshot_signed ${key} ${snapshot} base/20261207T000000Z/edge.tar.gz`).status).toBe(0);
      expect(shell.run(`snapshot_signed ${key} ${snapshot}`).status).toBe(1);
      expect(shell.run(`snapshot_signed ${key} ${snapshot} base/20261208T000000Z/edge.tar.gz`).status).toBe(1);
    });

    it.each([
      ["64 letters and digits", TEST_SIGNING_KEY, 0],
      ["32 letters and digits", TEST_SIGNING_KEY.slice(0, 32), 0],
      ["31 characters", TEST_SIGNING_KEY.slice(0, 31), 1],
      ["65 characters", `${TEST_SIGNING_KEY}x`, 1],
      ["a trailing newline", `${TEST_SIGNING_KEY}\n`, 1],
      ["a space", `${TEST_SIGNING_KEY.slice(0, 40)} ${TEST_SIGNING_KEY.slice(0, 10)}`, 1],
      ["a $", `${TEST_SIGNING_KEY.slice(0, 40)}$x`, 1],
      ["nothing", "", 1],
    ] as const)("signing_key_ok: a key of %s → %i", (_what, key, status) => {
      expect(shell.run(`signing_key_ok ${file(key)}`).status).toBe(status);
    });
  });
}
