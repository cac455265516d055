// @ts-check
/**
 * The app command of cdktf.json: `node scripts/run-app.cjs [stack...]`, in the app's folder, runs
 * its main.ts with those arguments like `npx tsx main.ts [stack...]`, but from one bundle of the
 * project's modules (esbuild; packages stay external and load from node_modules as usual) kept in
 * node_modules/.cache/updateio-app/. Loading through tsx's hooks costs a worker round trip per
 * module, and tsx itself takes about 0.3 s to start (npm run bench, section 4).
 *
 * The bundle is reused only while every file it was built from has the same content (SHA-256 of
 * each, checked on every run: a few ms) and esbuild's and node's versions are the same; otherwise
 * it is rebuilt (about 0.25 s). The hashes are taken of the very text esbuild bundled, so a file
 * edited during a build cannot be recorded as built. Each bundle is named by the hash of its text
 * and written to a temporary file then renamed, and the manifest that names it last, so a synth
 * never runs half a bundle or one built from other files, even with two synths at once. Modules that read files
 * beside them (the shell assets) keep their own folder: `__dirname` and `__filename` are replaced
 * by each module's own path at build time.
 */
const { createHash } = require("node:crypto");
const { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } = require("node:fs");
const path = require("node:path");

// The app's folder, where cdktf runs the app command (and where `npx tsx main.ts` looks for main.ts).
const ROOT = process.cwd();
const ENTRY = path.join(ROOT, "main.ts");
const CACHE = path.join(ROOT, "node_modules", ".cache", "updateio-app");
const MANIFEST = path.join(CACHE, "manifest.json");
/** Bundles older than this, other than the current one, are removed when a new one is built. */
const STALE_MS = 10 * 60 * 1000;

/** @param {string | Buffer} content */
function digest(content) {
  return createHash("sha256").update(content).digest("hex");
}

/** @typedef {{ esbuild: string, node: string, bundle: string, inputs: Record<string, string> }} Manifest */

/** @returns {Manifest | undefined} */
function readManifest() {
  try {
    return JSON.parse(readFileSync(MANIFEST, "utf8"));
  } catch {
    return undefined;
  }
}

/**
 * The cached bundle's path when it was built from exactly the files as they are now.
 * @param {string} esbuildVersion
 * @returns {string | undefined}
 */
function cachedBundle(esbuildVersion) {
  const manifest = readManifest();
  if (!manifest || manifest.esbuild !== esbuildVersion || manifest.node !== process.version) return undefined;
  const bundle = path.join(CACHE, path.basename(String(manifest.bundle)));
  if (!existsSync(bundle)) return undefined;
  try {
    for (const [file, hash] of Object.entries(manifest.inputs)) if (digest(readFileSync(path.join(ROOT, file))) !== hash) return undefined;
    return bundle;
  } catch {
    return undefined; // an input is gone
  }
}

/**
 * Loads the project's files for esbuild, recording the hash of each as read. TypeScript modules see
 * their own folder and file name, as they do when loaded on their own.
 * @param {Map<string, string>} hashes absolute path → SHA-256 of what was bundled
 * @returns {import("esbuild").Plugin}
 */
function projectFiles(hashes) {
  return {
    name: "project-files",
    setup(build) {
      build.onLoad({ filter: /\.(ts|json)$/ }, (args) => {
        const raw = readFileSync(args.path);
        hashes.set(args.path, digest(raw));
        if (args.path.endsWith(".json")) return { contents: raw, loader: "json" };
        const source = raw
          .toString("utf8")
          .replace(/\b__dirname\b/g, JSON.stringify(path.dirname(args.path)))
          .replace(/\b__filename\b/g, JSON.stringify(args.path));
        return { contents: source, loader: "ts" };
      });
    },
  };
}

/**
 * @param {typeof import("esbuild")} esbuild
 * @returns {Promise<{ file: string, text: string }>} the new bundle, and its path in the cache
 */
async function build(esbuild) {
  /** @type {Map<string, string>} */
  const hashes = new Map();
  const result = await esbuild.build({
    entryPoints: [ENTRY],
    absWorkingDir: ROOT,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: `node${process.versions.node.split(".")[0]}`,
    packages: "external",
    write: false,
    metafile: true,
    outfile: path.join(CACHE, "main.cjs"),
    logLevel: "silent",
    plugins: [projectFiles(hashes)],
  });
  /** @type {Record<string, string>} */
  const inputs = {};
  for (const file of Object.keys(result.metafile.inputs)) {
    const full = path.join(ROOT, file);
    inputs[file] = hashes.get(full) ?? digest(readFileSync(full));
  }
  const text = result.outputFiles[0].text;
  const name = `main-${digest(text).slice(0, 16)}.cjs`;
  const file = path.join(CACHE, name);
  try {
    save(file, text, { esbuild: esbuild.version, node: process.version, bundle: name, inputs });
  } catch (e) {
    // A read-only checkout still synthesizes, only without the cache.
    process.stderr.write(`run-app: the bundle cache in ${CACHE} could not be written (${/** @type {Error} */ (e).message}); running without it\n`);
  }
  return { file, text };
}

/**
 * @param {string} file
 * @param {string} text
 * @param {Manifest} manifest
 */
function save(file, text, manifest) {
  mkdirSync(CACHE, { recursive: true });
  const suffix = `.${process.pid}.tmp`;
  writeFileSync(file + suffix, text);
  renameSync(file + suffix, file);
  writeFileSync(MANIFEST + suffix, JSON.stringify(manifest));
  renameSync(MANIFEST + suffix, MANIFEST);
  removeStaleBundles(path.basename(file));
}

/** @param {string} current */
function removeStaleBundles(current) {
  for (const file of readdirSync(CACHE)) {
    if (file === current || !/^main-[0-9a-f]+\.cjs$/.test(file)) continue;
    const full = path.join(CACHE, file);
    try {
      if (Date.now() - statSync(full).mtimeMs > STALE_MS) rmSync(full, { force: true });
    } catch {
      // another synth removed it first
    }
  }
}

/**
 * Runs a bundle as the module at `file` (its packages resolve from the app's node_modules), from
 * its text: the same whether or not the cache could be written.
 * @param {string} file
 * @param {string} text
 */
function runBundle(file, text) {
  const Module = require("node:module");
  const m = new Module(file, module);
  m.filename = file;
  m.paths = Module._nodeModulePaths(path.dirname(file));
  m._compile(text, file);
}

async function main() {
  // Only the version on a cache hit: loading esbuild itself is needed for a build alone.
  const cached = cachedBundle(require("esbuild/package.json").version);
  if (cached !== undefined) {
    require(cached);
    return;
  }
  /** @type {typeof import("esbuild")} */
  const esbuild = require("esbuild");
  let built;
  try {
    built = await build(esbuild);
  } catch (e) {
    // esbuild's own messages name the file, line and problem (a syntax error, a missing module).
    const messages = /** @type {{ errors?: import("esbuild").Message[] }} */ (e).errors;
    const text = messages?.length
      ? (await esbuild.formatMessages(messages, { kind: "error", color: false })).join("")
      : String(/** @type {Error} */ (e).message ?? e);
    process.stderr.write(`Could not build the app from main.ts; nothing was synthesized:\n${text}`);
    process.exitCode = 1;
    return;
  }
  runBundle(built.file, built.text);
}

void main();
