/** Releases files for the release tests, written by the pin writer itself into a temp copy (never the committed file). */
import { copyFileSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { catalogueServiceNames, COMMITTED_RELEASES_FILE, releasesProblems } from "../../environments/prod";
import { runReleasePins } from "../../scripts/lib/release-pins";

export const ROOT = join(__dirname, "..", "..");
export const SERVICES = catalogueServiceNames();

/** A real-shaped digest (sha256 of a label), different per label. */
export function digestOf(label: string): string {
  return `sha256:${createHash("sha256").update(label).digest("hex")}`;
}

/** The ref a release of `service` at `version` on `registry` would push. */
export function refOf(registry: string, service: string, version = "1.4.0"): string {
  return `${registry}/updateio/${service}:${version}@${digestOf(`${service}@${version}`)}`;
}

/** Runs the pin writer in-process; returns exit code and output. */
export function pins(argv: readonly string[], cwd = ROOT): { code: number; out: string; err: string } {
  let out = "";
  let err = "";
  const code = runReleasePins(
    argv,
    { cwd, out: (t) => (out += t), err: (t) => (err += t) },
    {
      services: SERVICES,
      defaultFile: join(ROOT, COMMITTED_RELEASES_FILE),
      problemsOf: (data) => releasesProblems(data, SERVICES),
    },
  );
  return { code, out, err };
}

/** A temp copy of the committed releases.json, then every service pinned on `registry` by the pin writer. */
export function releasedFixture(registry = "ghcr.io", version = "1.4.0"): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), "updateio-release-"));
  const file = join(dir, "releases.json");
  copyFileSync(join(ROOT, COMMITTED_RELEASES_FILE), file);
  const result = pins([
    "--version",
    version,
    "--file",
    file,
    ...SERVICES.flatMap((s) => ["--image", `${s}=${refOf(registry, s, version)}`]),
  ]);
  if (result.code !== 0) throw new Error(`release:pins refused the fixture: ${result.err}`);
  return { dir, file };
}

export function readJson(file: string): any {
  return JSON.parse(readFileSync(file, "utf8"));
}
