/**
 * The pins of a release: which image (registry/name:version@sha256:<digest>) each app service runs in
 * test and prod. Pure checks and rendering, plus the one atomic write; scripts/release-pins.ts is the CLI.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, isAbsolute, join } from "node:path";
import { forEachFlag } from "./argv";
import { PLACEHOLDER_DIGEST, RELEASE_REF, RELEASE_VERSION, type Releases } from "../../environments/prod";
import { show } from "../../environments/variables";
import { isPinnedByDigest } from "../../constructs/contract/patterns";

export const RELEASES_COMMENT =
  "UpdateIO application images deployed by test and prod. The release pipeline rewrites this file (one PR per release, npm run release:pins); UPDATEIO_<ENV>_<SERVICE>_IMAGE overrides an entry for one run. Every entry is registry/name:version@sha256:<digest>.";

/** What an image reference must never hold, with the reason shown to the user (checked before the shape). */
const HOSTILE: readonly (readonly [RegExp, string])[] = [
  [/\$\{|%\{/, "holds a Terraform template sequence (${ or %{)"],
  [/["'`\\]/, "holds a quote or a backslash"],
  [/[\r\n\t]|[^\x20-\x7e]/, "holds a newline, a tab or a non-ASCII character"],
];

/** Why `ref` cannot be pinned for `key` (a flag or a JSON key), or undefined when it can. */
export function pinProblem(key: string, ref: string): string | undefined {
  for (const [pattern, why] of HOSTILE)
    if (pattern.test(ref)) return `${key}: ${show(ref)} ${why}; write registry/name:version@sha256:<64 hex>`;
  if (PLACEHOLDER_DIGEST.test(ref))
    return `${key}: ${show(ref)} has the placeholder digest sha256:000...; pass the digest the build pushed (docker buildx build --metadata-file: containerimage.digest)`;
  if (!isPinnedByDigest(ref) || !RELEASE_REF.test(ref))
    return `${key}: ${show(ref)} is not registry/name:version@sha256:<64 hex> (registry host with a dot, lowercase name, a version tag and the digest), e.g. ghcr.io/updateio/api:1.4.0@sha256:<digest>`;
  return undefined;
}

/** `service=ref` of an --image flag. */
export function parseImageFlag(value: string): { service: string; ref: string } | { problem: string } {
  const eq = value.indexOf("=");
  if (eq <= 0) return { problem: `--image ${show(value)}: write --image <service>=<registry>/<name>:<version>@sha256:<64 hex>` };
  return { service: value.slice(0, eq).trim(), ref: value.slice(eq + 1).trim() };
}

/**
 * The images of a metadata file the release workflow writes: { "<service>": <entry> }, where an entry
 * is a reference string or what `docker buildx build --metadata-file` writes for that service's build
 * ("image.name": comma-separated tags, "containerimage.digest": sha256:...). Of several tags the one
 * whose tag is not "latest" (and, when given, equals `version`) is taken.
 */
export function imagesFromMetadata(
  data: unknown,
  source: string,
  version?: string,
): { images: Record<string, string>; problems: string[] } {
  const images: Record<string, string> = {};
  const problems: string[] = [];
  if (typeof data !== "object" || data === null || Array.isArray(data))
    return { images, problems: [`${source}: must hold an object { "<service>": "<ref>" | <buildx metadata> }`] };
  for (const [service, entry] of Object.entries(data as Record<string, unknown>)) {
    const key = `${source}: ${service}`;
    if (typeof entry === "string") {
      images[service] = entry;
      continue;
    }
    const meta = (typeof entry === "object" && entry !== null ? entry : {}) as Record<string, unknown>;
    const names = typeof meta["image.name"] === "string" ? meta["image.name"].split(",").map((n) => n.trim()) : [];
    const digest = meta["containerimage.digest"];
    const tagOf = (name: string) => (name.lastIndexOf(":") > name.lastIndexOf("/") ? name.slice(name.lastIndexOf(":") + 1) : "");
    const candidates = names.filter((n) => tagOf(n) !== "" && tagOf(n) !== "latest");
    const name = candidates.find((n) => version !== undefined && tagOf(n) === version) ?? candidates[0];
    if (name === undefined || typeof digest !== "string") {
      problems.push(
        `${key}: needs "image.name" with a version tag and "containerimage.digest" (the --metadata-file of docker buildx build), or a reference string`,
      );
      continue;
    }
    images[service] = `${name}@${digest}`;
  }
  return { images, problems };
}

/**
 * The releases file after this release: `previous` with `pins` replacing their services, in
 * catalogue order. Problems: a pin that is refused, a service the catalogue does not have, a service
 * pinned twice with different images, and any service left without a real digest.
 */
export function mergePins(
  previous: Releases,
  pins: readonly { key: string; service: string; ref: string }[],
  version: string,
  services: readonly string[],
): { releases: Releases; problems: string[] } {
  const problems: string[] = [];
  if (!RELEASE_VERSION.test(version))
    problems.push(`--version: ${show(version)} is refused; write a version such as 1.4.0 (letters, digits, . _ + -; at most 64)`);
  const next: Record<string, string> = { ...previous.images };
  const pinned = new Map<string, string>();
  for (const pin of pins) {
    if (!services.includes(pin.service)) {
      problems.push(
        `${pin.key}: ${show(pin.service)} is not a service of the catalogue (environments/services.ts: ${services.join(", ")})`,
      );
      continue;
    }
    const problem = pinProblem(pin.key, pin.ref);
    if (problem) {
      problems.push(problem);
      continue;
    }
    const earlier = pinned.get(pin.service);
    if (earlier !== undefined && earlier !== pin.ref) {
      problems.push(`${pin.key}: ${pin.service} is pinned twice (${earlier} and ${pin.ref}); pass one image per service`);
      continue;
    }
    pinned.set(pin.service, pin.ref);
    next[pin.service] = pin.ref;
  }
  for (const service of services) {
    const ref = next[service];
    if (ref === undefined)
      problems.push(`images.${service}: no image; pass --image ${service}=<registry>/<name>:<version>@sha256:<digest>`);
    else if (!pinned.has(service) && PLACEHOLDER_DIGEST.test(ref))
      problems.push(
        `images.${service}: still the placeholder digest and this release does not pin it; pass --image ${service}=<registry>/<name>:<version>@sha256:<digest> (the first release pins every service)`,
      );
  }
  // Catalogue order, so a release's diff shows only the lines that changed.
  const images = Object.fromEntries(services.filter((s) => next[s] !== undefined).map((s) => [s, next[s]!]));
  return { releases: { version, images }, problems };
}

/** The file's text: comment, version, images; two-space JSON with a final newline (what prettier keeps). */
export function renderReleases(releases: Releases): string {
  return `${JSON.stringify({ $comment: RELEASES_COMMENT, version: releases.version, images: releases.images }, null, 2)}\n`;
}

/**
 * Writes `path` all at once: a temp file beside it (same file system), flushed, then renamed over it.
 * A reader sees the old file or the new one, never half of one; on any error the temp file is removed.
 */
export function writeFileAtomically(path: string, text: string): void {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    const fd = openSync(temp, "wx", 0o644);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
  } catch (e) {
    rmSync(temp, { force: true });
    throw e;
  }
}

export const PINS_USAGE = `usage: npm run release:pins -- --version <version> (--image <service>=<ref> ... | --metadata <file>) [--file <releases.json>]

Writes the images a release built into environments/releases.json (or --file), all at once: a
service not named keeps its pin, every service must end with a real digest. Nothing is written
when anything is refused.

  --version <version>     the release's version, e.g. 1.4.0
  --image <service>=<ref> one built image, registry/name:version@sha256:<64 hex>; repeat per service
  --metadata <file>       JSON { "<service>": "<ref>" | <docker buildx --metadata-file output> }
  --file <path>           the releases file to rewrite (default environments/releases.json)
  -h, --help              this text

Exit code: 0 written, 2 refused (nothing written), 1 an unexpected error.`;

export interface PinsIo {
  readonly cwd: string;
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

/** The release:pins command: parses flags, reads, merges, writes; returns the exit code. */
export function runReleasePins(
  argv: readonly string[],
  io: PinsIo,
  deps: { readonly services: readonly string[]; readonly defaultFile: string; readonly problemsOf: (data: unknown) => string[] },
): number {
  const problems: string[] = [];
  const pins: { key: string; service: string; ref: string }[] = [];
  const metadata: string[] = [];
  let version: string | undefined;
  let file = deps.defaultFile;
  let help = false;
  try {
    forEachFlag(
      argv,
      (flag, value) => {
        if (flag === "--version") version = value();
        else if (flag === "--file") file = value();
        else if (flag === "--metadata") metadata.push(value());
        else if (flag === "--image") {
          const parsed = parseImageFlag(value());
          if ("problem" in parsed) problems.push(parsed.problem);
          else pins.push({ key: `--image ${parsed.service}`, ...parsed });
        } else if (flag === "-h" || flag === "--help") help = true;
        else problems.push(`${show(flag)} is not a flag of release:pins; see --help`);
      },
      (message) => new Error(message),
    );
  } catch (e) {
    problems.push((e as Error).message);
  }
  if (help) {
    io.out(`${PINS_USAGE}\n`);
    return 0;
  }
  if (version === undefined) problems.push("--version is missing; pass the release's version, e.g. --version 1.4.0");
  const path = isAbsolute(file) ? file : join(io.cwd, file);
  for (const m of metadata) {
    let data: unknown;
    try {
      data = JSON.parse(readFileSync(isAbsolute(m) ? m : join(io.cwd, m), "utf8"));
    } catch (e) {
      problems.push(`--metadata ${m}: cannot read it as JSON (${(e as Error).message})`);
      continue;
    }
    const found = imagesFromMetadata(data, `--metadata ${m}`, version);
    problems.push(...found.problems);
    pins.push(...Object.entries(found.images).map(([service, ref]) => ({ key: `--metadata ${m}: ${service}`, service, ref })));
  }
  if (pins.length === 0 && metadata.length === 0)
    problems.push("no images given; pass --image <service>=<ref> (repeat) or --metadata <file>");
  let previous: Releases | undefined;
  try {
    const data: unknown = JSON.parse(readFileSync(path, "utf8"));
    const fileProblems = deps.problemsOf(data);
    if (fileProblems.length > 0) problems.push(...fileProblems.map((p) => `${file}: ${p} (fix the file by hand, or restore it from git)`));
    else previous = data as Releases;
  } catch (e) {
    problems.push(`--file ${file}: cannot read it as JSON (${(e as Error).message}); name the existing releases file`);
  }
  if (previous !== undefined && version !== undefined) {
    const merged = mergePins(previous, pins, version, deps.services);
    problems.push(...merged.problems);
    if (problems.length === 0) {
      writeFileAtomically(path, renderReleases(merged.releases));
      io.out(
        `release:pins: wrote ${file} (version ${version}):\n${Object.entries(merged.releases.images)
          .map(([s, ref]) => `  ${s}: ${ref}${pins.some((p) => p.service === s) ? "" : " (unchanged)"}`)
          .join("\n")}\n`,
      );
      return 0;
    }
  }
  io.err(
    `release:pins: nothing written; ${problems.length} problem${problems.length === 1 ? "" : "s"}:\n${problems.map((p) => `  - ${p}`).join("\n")}\n`,
  );
  return 2;
}
