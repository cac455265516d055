/**
 * `npm run release:pins`: writes the images a release built into environments/releases.json, the
 * pins test and prod deploy. The release workflow (.github/workflows/release.yml) runs it with the
 * digests BuildKit reported and opens a pull request with the result (docs/runbooks/release.md).
 *
 *   npm run release:pins -- --version 1.4.0 --image api=ghcr.io/updateio/api:1.4.0@sha256:<64 hex> ...
 *   npm run release:pins -- --version 1.4.0 --metadata build-metadata.json
 */
import { join } from "node:path";
import { catalogueServiceNames, COMMITTED_RELEASES_FILE, releasesProblems } from "../environments/prod";
import { runReleasePins } from "./lib/release-pins";

const ROOT = join(__dirname, "..");

try {
  const services = catalogueServiceNames();
  process.exitCode = runReleasePins(
    process.argv.slice(2),
    { cwd: process.cwd(), out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) },
    { services, defaultFile: join(ROOT, COMMITTED_RELEASES_FILE), problemsOf: (data) => releasesProblems(data, services) },
  );
} catch (e) {
  process.stderr.write(`release:pins: ${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
}
