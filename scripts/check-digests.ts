/**
 * `npm run release:check`: before an apply, asks the registry whether every image test or prod would
 * deploy exists by its pinned digest (docs/runbooks/release.md). Reads the environment exactly as synth
 * does (environments/prod.ts: the releases file and the UPDATEIO_<ENV>_<SERVICE>_IMAGE overrides).
 *
 *   npm run release:check -- --env prod
 */
import { registryHostOf, releasedImages } from "../environments/prod";
import { Variables } from "../environments/variables";
import { runDigestCheck } from "./lib/registry-check";

runDigestCheck(
  process.argv.slice(2),
  process.env,
  { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) },
  (env, source) => {
    const vars = new Variables(env, source);
    const images = releasedImages(vars);
    const registry = registryHostOf(vars);
    return { images, registry, problems: vars.problems.map((p) => `${p.variable}: ${p.message}`) };
  },
).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`release:check: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  },
);
