// @ts-check
/**
 * The app command of cdktf.json: `node scripts/run-app.cjs [stack...]`, in the app's folder, runs
 * its main.ts with those arguments like `npx tsx main.ts [stack...]`, but from one esbuild bundle of
 * the project's modules and the packages they import, kept in node_modules/.cache/updateio-app/
 * with V8's code cache for it. Loading through tsx's hooks costs a worker round trip per module and
 * tsx itself takes about 0.3 s to start; loading the ~600 package files one by one from
 * node_modules and compiling everything on every run cost about 0.18 s more than this (1.21 s
 * against 1.03 s for the whole synth).
 *
 * The bundle is reused only while nothing it was built from changed, and esbuild's and node's
 * versions are the same; otherwise it is rebuilt (that run takes about 0.9 s more):
 * - the project's files by content (SHA-256 of each, checked on every run). The hashes are taken of
 *   the very text esbuild bundled, so a file edited during a build cannot be recorded as built;
 * - packages by the content of each bundled package's package.json (a new version, whatever its
 *   files' dates: npm extracts every file with the same fixed mtime) and by the size and mtime of
 *   each bundled file (an edit by hand or by a patch tool).
 * Each bundle is named by the hash of its text and written to a temporary file then renamed, and the
 * manifest that names it last, so a synth never runs half a bundle or one built from other files,
 * even with two synths at once. Modules that read files beside them (the shell assets) keep their
 * own folder: `__dirname` and `__filename` are replaced by each module's own path at build time
 * (no bundled package uses either).
 *
 * The code cache (`<bundle>.<flags>.v8cache`, V8's compiled functions after a whole successful run)
 * saves compiling the bundle again on the next run. It belongs to one bundle text and one set of
 * node flags by name; V8 itself refuses a cache from another V8 version or other flags, and the run
 * then compiles from source and writes a new cache at its end.
 */
const { createHash } = require("node:crypto");
const { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } = require("node:fs");
const path = require("node:path");
const vm = require("node:vm");

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

/**
 * @typedef {{
 *   esbuild: string,
 *   node: string,
 *   bundle: string,
 *   inputs: Record<string, string>,
 *   packages: Record<string, string>,
 *   packageJsons: Record<string, string>,
 * }} Manifest
 * inputs: project file → SHA-256; packages: bundled package file → "size:mtimeMs";
 * packageJsons: package.json of each bundled package → SHA-256 (paths relative to the app's folder).
 */

/** @returns {Manifest | undefined} */
function readManifest() {
  try {
    return JSON.parse(readFileSync(MANIFEST, "utf8"));
  } catch {
    return undefined;
  }
}

/** A package file's size and modification time, as the manifest records them. */
function stamp(/** @type {string} */ file) {
  const s = statSync(file);
  return `${s.size}:${s.mtimeMs}`;
}

const IN_PACKAGE = /[\\/]node_modules[\\/]/;

/**
 * The package.json of the package a bundled file belongs to (the innermost node_modules/<name>);
 * undefined for a project file.
 */
function packageJsonOf(/** @type {string} */ file) {
  const m = /^((?:.*[\\/])?node_modules[\\/](?:@[^\\/]+[\\/])?[^\\/]+)[\\/]/.exec(file);
  return m ? path.join(m[1], "package.json") : undefined;
}

/**
 * The cached bundle's path when it was built from exactly the files as they are now.
 * @param {string} esbuildVersion
 * @returns {string | undefined}
 */
function cachedBundle(esbuildVersion) {
  const manifest = readManifest();
  if (!manifest || manifest.esbuild !== esbuildVersion || manifest.node !== process.version) return undefined;
  if (!manifest.inputs || !manifest.packages || !manifest.packageJsons) return undefined;
  const bundle = path.join(CACHE, path.basename(String(manifest.bundle)));
  if (!existsSync(bundle)) return undefined;
  try {
    for (const [file, hash] of Object.entries(manifest.inputs)) if (digest(readFileSync(path.join(ROOT, file))) !== hash) return undefined;
    for (const [file, hash] of Object.entries(manifest.packageJsons)) if (digest(readFileSync(path.join(ROOT, file))) !== hash) return undefined;
    for (const [file, was] of Object.entries(manifest.packages)) if (stamp(path.join(ROOT, file)) !== was) return undefined;
    return bundle;
  } catch {
    return undefined; // an input is gone
  }
}

/**
 * Loads the project's files for esbuild, recording the hash of each as read. TypeScript modules see
 * their own folder and file name, as they do when loaded on their own. Package files load as
 * esbuild loads them; their size and mtime are recorded before esbuild reads them, so an edit
 * during the build leaves a record older than the file and the next run rebuilds.
 * @param {Map<string, string>} hashes absolute path → SHA-256 of what was bundled
 * @param {Map<string, string>} stamps absolute path of a package file → "size:mtimeMs"
 * @returns {import("esbuild").Plugin}
 */
function projectFiles(hashes, stamps) {
  return {
    name: "project-files",
    setup(build) {
      build.onLoad({ filter: IN_PACKAGE }, (args) => {
        stamps.set(args.path, stamp(args.path));
        return undefined;
      });
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
 * @returns {Promise<{ file: string, text: string, saved: boolean }>} the new bundle, its path in the
 *   cache, and whether it could be written there
 */
async function build(esbuild) {
  /** @type {Map<string, string>} */
  const hashes = new Map();
  /** @type {Map<string, string>} */
  const stamps = new Map();
  const result = await esbuild.build({
    entryPoints: [ENTRY],
    absWorkingDir: ROOT,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: `node${process.versions.node.split(".")[0]}`,
    // import() becomes a require: a script run from a code cache has no loader for import()
    // (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING), and every module left outside the bundle is node's own.
    supported: { "dynamic-import": false },
    write: false,
    metafile: true,
    outfile: path.join(CACHE, "main.cjs"),
    logLevel: "silent",
    plugins: [projectFiles(hashes, stamps)],
  });
  /** @type {Record<string, string>} */
  const inputs = {};
  /** @type {Record<string, string>} */
  const packages = {};
  /** @type {Record<string, string>} */
  const packageJsons = {};
  for (const file of Object.keys(result.metafile.inputs)) {
    const full = path.join(ROOT, file);
    const packageJson = packageJsonOf(file);
    if (packageJson === undefined) {
      inputs[file] = hashes.get(full) ?? digest(readFileSync(full));
      continue;
    }
    packages[file] = stamps.get(full) ?? stamp(full);
    packageJsons[packageJson] ??= digest(readFileSync(path.join(ROOT, packageJson)));
  }
  const text = result.outputFiles[0].text;
  const name = `main-${digest(text).slice(0, 16)}.cjs`;
  const file = path.join(CACHE, name);
  let saved = true;
  try {
    save(file, text, { esbuild: esbuild.version, node: process.version, bundle: name, inputs, packages, packageJsons });
  } catch (e) {
    // A read-only checkout still synthesizes, only without the cache.
    process.stderr.write(`run-app: the bundle cache in ${CACHE} could not be written (${/** @type {Error} */ (e).message}); running without it\n`);
    saved = false;
  }
  return { file, text, saved };
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
    const bundle = /^(main-[0-9a-f]+)\.(cjs|[0-9a-f]+\.v8cache)$/.exec(file);
    if (bundle === null || bundle[1] === path.basename(current, ".cjs")) continue;
    const full = path.join(CACHE, file);
    try {
      if (Date.now() - statSync(full).mtimeMs > STALE_MS) rmSync(full, { force: true });
    } catch {
      // another synth removed it first
    }
  }
}

/**
 * The code cache of a bundle for this process's V8 flags. Named after the bundle, so it never meets
 * another bundle's text (V8 checks only the source's length), and after the flags, because V8 refuses
 * a cache made with other flags: `cdktf synth` runs the app with NODE_OPTIONS=--max-old-space-size,
 * a plain `node scripts/run-app.cjs` without, and each keeps its own cache instead of replacing the
 * other's on every switch.
 */
function codeCacheOf(/** @type {string} */ file) {
  const flags = digest(JSON.stringify([process.execArgv, process.env.NODE_OPTIONS ?? ""])).slice(0, 8);
  return file.replace(/\.cjs$/, `.${flags}.v8cache`);
}

/**
 * Runs a bundle as the module at `file` from its text (the same whether or not the cache could be
 * written), with its code cache when V8 accepts it. Without one, the run writes one at its end, once
 * the functions it ran are compiled, and only after a successful run (a failed one ran less).
 * The wrapper is node's own CommonJS wrapper, on the bundle's first line so line numbers hold.
 * @param {string} file
 * @param {string} text
 * @param {boolean} cacheable false when the bundle itself could not be written to the cache
 */
function runBundle(file, text, cacheable) {
  const Module = require("node:module");
  const cacheFile = codeCacheOf(file);
  /** @type {Buffer | undefined} */
  let cachedData;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    // none yet
  }
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) { ${text}\n});`, {
    filename: file,
    cachedData,
  });
  if (cacheable && (cachedData === undefined || script.cachedDataRejected)) {
    process.once("exit", (code) => {
      if (code === 0) saveCodeCache(cacheFile, script);
    });
  }
  const m = new Module(file, module);
  m.filename = file;
  m.paths = Module._nodeModulePaths(path.dirname(file));
  script.runInThisContext().call(m.exports, m.exports, Module.createRequire(file), m, file, path.dirname(file));
  m.loaded = true;
}

/**
 * @param {string} cacheFile
 * @param {import("node:vm").Script} script
 */
function saveCodeCache(cacheFile, script) {
  const temporary = `${cacheFile}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, script.createCachedData());
    renameSync(temporary, cacheFile);
  } catch {
    // A cache: without it the next run compiles again.
    try {
      rmSync(temporary, { force: true });
    } catch {
      // nothing was written
    }
  }
}

async function main() {
  // Only the version on a cache hit: loading esbuild itself is needed for a build alone.
  const cached = cachedBundle(require("esbuild/package.json").version);
  if (cached !== undefined) {
    runBundle(cached, readFileSync(cached, "utf8"), true);
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
  runBundle(built.file, built.text, built.saved);
}

void main();
