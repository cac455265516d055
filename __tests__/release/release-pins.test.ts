/** The pin writer (npm run release:pins): strict refs, nothing half-written, stable output. */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { COMMITTED_RELEASES_FILE, releasesProblems } from "../../environments/prod";
import { imagesFromMetadata, pinProblem, renderReleases, writeFileAtomically } from "../../scripts/lib/release-pins";
import { digestOf, pins, readJson, refOf, ROOT, SERVICES } from "./fixtures";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A temp copy of the committed releases.json. */
function copy(): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), "release-pins-"));
  dirs.push(dir);
  const file = join(dir, "releases.json");
  copyFileSync(join(ROOT, COMMITTED_RELEASES_FILE), file);
  return { dir, file };
}

const all = (version = "1.4.0") => SERVICES.flatMap((s) => ["--image", `${s}=${refOf("ghcr.io", s, version)}`]);

describe("release:pins", () => {
  it("writes every service's pin, in catalogue order, with the version, and the file passes synth's reader", () => {
    const { file } = copy();
    const r = pins([
      "--version",
      "1.4.0",
      "--file",
      file,
      ...[...SERVICES].reverse().flatMap((s) => ["--image", `${s}=${refOf("ghcr.io", s)}`]),
    ]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const written = readJson(file);
    expect(written.version).toBe("1.4.0");
    expect(Object.keys(written)).toEqual(["$comment", "version", "images"]);
    expect(Object.keys(written.images)).toEqual(SERVICES);
    for (const s of SERVICES) expect(written.images[s]).toBe(refOf("ghcr.io", s));
    expect(releasesProblems(written)).toEqual([]);
    expect(readFileSync(file, "utf8")).toBe(renderReleases(written));
  });

  it("keeps the pins of services a later release does not rebuild", () => {
    const { file } = copy();
    expect(pins(["--version", "1.4.0", "--file", file, ...all()]).code).toBe(0);
    const api = refOf("ghcr.io", "api", "1.5.0");
    const r = pins(["--version", "1.5.0", "--file", file, "--image", `api=${api}`]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("discord-bot: ghcr.io/updateio/discord-bot:1.4.0@");
    expect(r.out).toMatch(/discord-bot: .* \(unchanged\)/);
    const written = readJson(file);
    expect(written.version).toBe("1.5.0");
    expect(written.images.api).toBe(api);
    expect(written.images["mini-app"]).toBe(refOf("ghcr.io", "mini-app", "1.4.0"));
  });

  it("reads docker buildx --metadata-file output (the tag that is not latest, the pushed digest)", () => {
    const { dir, file } = copy();
    const metadata = join(dir, "metadata.json");
    writeFileSync(
      metadata,
      JSON.stringify(
        Object.fromEntries(
          SERVICES.map((s) => [
            s,
            {
              "image.name": `ghcr.io/updateio/${s}:latest,ghcr.io/updateio/${s}:1.4.0`,
              "containerimage.digest": digestOf(`${s}@1.4.0`),
              "buildx.build.ref": "builder/builder0/abc",
            },
          ]),
        ),
      ),
    );
    const r = pins(["--version", "1.4.0", "--file", file, "--metadata", metadata]);
    expect(r.err).toBe("");
    expect(readJson(file).images).toEqual(Object.fromEntries(SERVICES.map((s) => [s, refOf("ghcr.io", s)])));
  });

  describe("refuses, naming the flag or key and the fix, and writes nothing", () => {
    const digest = digestOf("x");
    const cases: [string, string[], RegExp][] = [
      ["no version", all().slice(0), /--version is missing; pass the release's version/],
      ["a bad version", ["--version", "1.4.0;rm", ...all()], /--version: "1\.4\.0;rm" is refused; write a version such as 1\.4\.0/],
      ["no images", ["--version", "1.4.0"], /no images given; pass --image/],
      [
        "an unknown service",
        ["--version", "1", ...all(), "--image", `payments=ghcr.io/updateio/payments:1@${digest}`],
        /--image payments: "payments" is not a service of the catalogue \(environments\/services\.ts: api, /,
      ],
      [
        "a placeholder digest",
        ["--version", "1", ...all(), "--image", `api=ghcr.io/updateio/api:1@sha256:${"0".repeat(64)}`],
        /--image api: .* has the placeholder digest sha256:000\.\.\.; pass the digest the build pushed/,
      ],
      [
        "a template sequence",
        ["--version", "1", ...all(), "--image", `api=ghcr.io/updateio/api:1@${digest}\${file("/etc/passwd")}`],
        /--image api: .* holds a Terraform template sequence/,
      ],
      [
        "a %{ directive",
        ["--version", "1", ...all(), "--image", `api=ghcr.io/updateio/api:%{if}@${digest}`],
        /--image api: .* holds a Terraform template sequence/,
      ],
      ["a quote", ["--version", "1", ...all(), "--image", `api=ghcr.io/updateio/api:1"@${digest}`], /--image api: .* holds a quote/],
      ["a newline", ["--version", "1", ...all(), "--image", `api=ghcr.io/updateio/api:1@${digest}\nx`], /--image api: .* holds a newline/],
      [
        "no registry",
        ["--version", "1", ...all(), "--image", `api=updateio/api:1@${digest}`],
        /--image api: "updateio\/api:1@sha256:[0-9a-f]{64}" is not registry\/name:version@sha256:<64 hex>/,
      ],
      ["no tag", ["--version", "1", ...all(), "--image", `api=ghcr.io/updateio/api@${digest}`], /is not registry\/name:version@sha256/],
      [
        "no digest",
        ["--version", "1", ...all(), "--image", "api=ghcr.io/updateio/api:1.4.0"],
        /--image api: .* is not registry\/name:version@sha256/,
      ],
      [
        "a short digest",
        ["--version", "1", ...all(), "--image", "api=ghcr.io/updateio/api:1@sha256:abc"],
        /is not registry\/name:version@sha256/,
      ],
      [
        "an uppercase name",
        ["--version", "1", ...all(), "--image", `api=ghcr.io/UpdateIO/api:1@${digest}`],
        /is not registry\/name:version@sha256/,
      ],
      [
        "a service pinned twice",
        ["--version", "1", ...all(), "--image", `api=${refOf("ghcr.io", "api", "2")}`],
        /--image api: api is pinned twice/,
      ],
      ["a flag without =", ["--version", "1", "--image", "api"], /--image "api": write --image <service>=<registry>/],
      ["an unknown flag", ["--version", "1", ...all(), "--force"], /"--force" is not a flag of release:pins/],
      [
        "a first release that leaves placeholders",
        ["--version", "1", "--image", `api=${refOf("ghcr.io", "api")}`],
        /images\.discord-bot: still the placeholder digest and this release does not pin it; pass --image discord-bot=/,
      ],
    ];
    for (const [label, argv, message] of cases) {
      it(label, () => {
        const { dir, file } = copy();
        const before = readFileSync(file, "utf8");
        const r = pins([...argv, "--file", file]);
        expect(r.code).toBe(2);
        expect(r.err).toMatch(/^release:pins: nothing written; \d+ problems?:/);
        expect(r.err).toMatch(message);
        expect(readFileSync(file, "utf8")).toBe(before);
        expect(readdirSync(dir)).toEqual(["releases.json"]);
      });
    }
  });

  it("refuses to merge into a releases file that is itself invalid", () => {
    const { file } = copy();
    writeFileSync(file, JSON.stringify({ version: "1", images: { api: 'x"; evil' } }));
    const r = pins(["--version", "1.4.0", "--file", file, ...all()]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/images\.api: "x\\"; evil" is refused; write <registry>\/<name>:<version>@sha256:<64 hex>/);
  });

  it("leaves the old file and no temp file when the write itself fails", () => {
    const { dir } = copy();
    // A non-empty directory where the file should be: the temp file is written, the rename fails.
    const target = join(dir, "releases.d");
    mkdirSync(target);
    writeFileSync(join(target, "keep"), "old");
    expect(() => writeFileAtomically(target, "new\n")).toThrow(/EISDIR|ENOTEMPTY|EEXIST/);
    expect(readFileSync(join(target, "keep"), "utf8")).toBe("old");
    expect(readdirSync(dir).sort()).toEqual(["releases.d", "releases.json"]);
  });

  it("replaces the file in one rename (the inode changes; a reader never sees half a file)", () => {
    const { file } = copy();
    const before = statSync(file).ino;
    writeFileAtomically(file, "{}\n");
    expect(statSync(file).ino).not.toBe(before);
    expect(readFileSync(file, "utf8")).toBe("{}\n");
  });
});

describe("pinProblem and imagesFromMetadata", () => {
  it("accepts a registry with a port and localhost", () => {
    expect(pinProblem("k", `registry.example.com:5000/updateio/api:1.4.0@${digestOf("a")}`)).toBeUndefined();
    expect(pinProblem("k", `localhost:5000/api:1.4.0-rc.1@${digestOf("a")}`)).toBeUndefined();
  });

  it("names the service whose metadata lacks a digest", () => {
    const r = imagesFromMetadata({ api: { "image.name": "ghcr.io/updateio/api:1.4.0" } }, "meta.json");
    expect(r.problems).toEqual([
      expect.stringMatching(/^meta\.json: api: needs "image\.name" with a version tag and "containerimage\.digest"/),
    ]);
  });

  it("prefers the tag equal to the version among several", () => {
    const d = digestOf("a");
    const r = imagesFromMetadata(
      { api: { "image.name": "ghcr.io/updateio/api:sha-abc,ghcr.io/updateio/api:1.4.0", "containerimage.digest": d } },
      "m",
      "1.4.0",
    );
    expect(r.images.api).toBe(`ghcr.io/updateio/api:1.4.0@${d}`);
  });
});
