/**
 * Where dev's five app images come from: UPDATEIO_DEV_SOURCE_ROOT's checkouts, or, unset, the
 * reference service in this repository (so synth and a plan of dev need nothing else). Problems
 * go through loadEnvironmentConfig, the path main.ts takes, and name the variable and the fix.
 * A real BuildKit build is not run here (no registry access for the node base image): the build
 * blocks are asserted as synthesized (see also __tests__/kit/service-image-build.test.ts).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadEnvironmentConfig, validateEnvironmentConfig } from "../../environments/load";
import { MIGRATIONS_HASH_LABEL } from "../../constructs/app/migration-job";
import { DEV_SOURCE_FOLDERS, fakeSourceRoot, PROJECT_ROOT } from "../support/dev-sources";
import { sharedEnvironment, synthEnvironment, type TerraformJson } from "../support/stacks";
import { loadProblems } from "../support/config-problems";

const OUT = mkdtempSync(join(tmpdir(), "dev-source-test-"));
afterAll(() => rmSync(OUT, { recursive: true, force: true }));

const REFERENCE = "examples/reference-service";
const rel = (path: string) => `\${abspath(join("/", [path.root, "../../..", "${path}"]))}`;
const VAR = "UPDATEIO_DEV_SOURCE_ROOT";

type Json = Record<string, any>;
const builtImages = (json: TerraformJson): Json[] => (Object.values(json.resource.docker_image) as Json[]).filter((i) => i.build);
const container = (json: TerraformJson, name: string): Json => {
  const found = (Object.values(json.resource.docker_container) as Json[]).filter((c) => c.name === name);
  expect(found, name).toHaveLength(1);
  return found[0]!;
};
const problemsOf = (env: Record<string, string>): string[] => loadProblems("dev", env);

describe("dev without UPDATEIO_DEV_SOURCE_ROOT: the reference service in all five roles", () => {
  const { json } = sharedEnvironment("dev");

  it("builds one tag per service from examples/reference-service's dev stage with BuildKit", () => {
    const images = builtImages(json);
    expect(images.map((i) => i.name).sort()).toEqual(DEV_SOURCE_FOLDERS.map((s) => `updateio-dev/${s}:dev`).sort());
    for (const image of images) {
      expect(image.build, image.name).toEqual({
        builder: "default",
        context: rel(REFERENCE),
        dockerfile: rel(`${REFERENCE}/Dockerfile`),
        tag: [image.name],
        target: "dev",
      });
      expect(image.triggers, image.name).toEqual({ dockerfile: `\${filesha256(${rel(`${REFERENCE}/Dockerfile`).slice(2, -1)})}` });
    }
  });

  it("bind-mounts the reference service's source over /app and runs npm run dev", () => {
    for (const svc of DEV_SOURCE_FOLDERS) {
      const c = container(json, `dev-${svc}`);
      expect(c.command, svc).toEqual(["npm", "run", "dev"]);
      expect(c.volumes, svc).toContainEqual({ host_path: rel(REFERENCE), container_path: "/app", read_only: false });
    }
  });

  it("migrates with the reference service's own script (no Prisma in it), re-run when its migrations change", () => {
    const job = container(json, "dev-api-migrate");
    expect(job.command).toEqual(["npm", "run", "dev:migrate"]);
    const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, REFERENCE, "package.json"), "utf8"));
    expect(pkg.scripts["dev:migrate"]).toMatch(/src\/migrate\.ts/);
    expect(JSON.stringify(pkg)).not.toMatch(/prisma/);
    expect(job.labels.map((l: Json) => l.label)).toContain(MIGRATIONS_HASH_LABEL);
    // The job runs the API's image: the same built tag, so the same reference service.
    expect(job.image).toBe(container(json, "dev-api").image);
    // ... with the checked-out source over the image's copy (read-only), so a re-run runs the new
    // migration, not the one baked in at the last rebuild; node_modules stays the image's.
    expect(job.volumes).toContainEqual({ host_path: rel(REFERENCE), container_path: "/app", read_only: true });
    expect(job.volumes.map((v: Json) => v.container_path)).toContain("/app/node_modules");
  });

  it("the Dockerfile has the contract's stages: dev runs npm run dev, runtime is the last stage", () => {
    const text = readFileSync(join(PROJECT_ROOT, REFERENCE, "Dockerfile"), "utf8");
    const stages = [...text.matchAll(/^FROM \S+ AS (\S+)$/gm)].map((m) => m[1]);
    expect(stages).toContain("dev");
    expect(stages.at(-1)).toBe("runtime");
    // dev builds on deps (every dependency: npm ci without --omit=dev) and runs npm run dev.
    const start = text.indexOf("FROM deps AS dev\n");
    expect(start).toBeGreaterThan(0);
    const dev = text.slice(start, text.indexOf("\nFROM", start));
    expect(dev).toContain('CMD ["npm", "run", "dev"]');
    const deps = text.slice(text.indexOf("AS deps\n"), text.indexOf("\nFROM", text.indexOf("AS deps\n")));
    expect(deps).toMatch(/^RUN (--mount=\S+ )?npm ci --ignore-scripts/m);
    expect(deps).not.toContain("--omit=dev");
  });
});

describe("dev with UPDATEIO_DEV_SOURCE_ROOT: the checkouts, as before", () => {
  const root = fakeSourceRoot(join(OUT, "sources"));

  it("builds each service from <root>/<service> (dev stage, BuildKit) and migrates with Prisma", () => {
    const { json } = synthEnvironment("dev", { [VAR]: root }, join(OUT, "out-abs"));
    const images = builtImages(json);
    expect(images).toHaveLength(5);
    for (const image of images) {
      const svc = /^updateio-dev\/(.+):dev$/.exec(image.name)![1]!;
      expect(image.build, svc).toEqual({
        builder: "default",
        context: `${root}/${svc}`,
        dockerfile: `${root}/${svc}/Dockerfile`,
        tag: [image.name],
        target: "dev",
      });
      expect(container(json, `dev-${svc}`).volumes).toContainEqual({
        host_path: `${root}/${svc}`,
        container_path: "/app",
        read_only: false,
      });
    }
    const job = container(json, "dev-api-migrate");
    expect(job.command).toEqual(["npx", "prisma", "migrate", "deploy"]);
    // No prisma/migrations in the stand-ins: no hash label (the job re-runs when the image changes).
    expect(job.labels.map((l: Json) => l.label)).not.toContain(MIGRATIONS_HASH_LABEL);
  });

  it("a relative root is relative to the project root (Terraform's abspath), checked from there", () => {
    const path = relative(PROJECT_ROOT, root);
    const { json } = synthEnvironment("dev", { [VAR]: path }, join(OUT, "out-rel"));
    expect(builtImages(json).map((i) => i.build.context)).toContain(rel(`${path}/api`));
  });
});

describe("a missing checkout or Dockerfile stops synth, naming the folder, the variable and the fix", () => {
  it("a source root that does not exist", () => {
    const missing = join(OUT, "no-such-checkout");
    const problems = problemsOf({ [VAR]: missing });
    expect(problems).toHaveLength(5);
    for (const svc of DEV_SOURCE_FOLDERS) {
      const line = problems.find((p) => p.includes(`"${missing}/${svc}"`));
      expect(line, svc).toBeDefined();
      expect(line).toMatch(new RegExp(`^${VAR} \\(environment variable, services\\.${svc}\\.image\\.context\\): folder .* does not exist`));
      expect(line).toMatch(/unset it to build every service from examples\/reference-service/);
      expect(line).toMatch(/check the service's source out there/);
    }
  });

  it("a service folder without a Dockerfile", () => {
    const root = fakeSourceRoot(join(OUT, "partial"), ["api", "discord-bot", "telegram-bot", "mini-app"]);
    mkdirSync(join(root, "admin-panel"));
    const problems = problemsOf({ [VAR]: root });
    expect(problems).toEqual([
      expect.stringMatching(
        new RegExp(
          `^${VAR} \\(environment variable, services\\.admin-panel\\.image\\.dockerfile\\): "${root}/admin-panel" has no Dockerfile \\(${root}/admin-panel/Dockerfile\\): add one with a "dev" stage`,
        ),
      ),
    ]);
    expect(problems[0]).toMatch(/unset it to build every service from examples\/reference-service/);
  });

  it("a relative root is looked up under the project root, not the cwd", () => {
    // "examples" exists under the project root but holds no service folders.
    const problems = problemsOf({ [VAR]: "examples" });
    expect(problems.find((p) => p.includes("services.api.image.context"))).toContain(`(${join(PROJECT_ROOT, "examples/api")})`);
  });

  it("a hand-written build context is checked too (no variable involved)", () => {
    const base = loadEnvironmentConfig("dev", {});
    const broken = {
      ...base,
      services: { ...base.services, api: { ...base.services.api!, image: { ...base.services.api!.image, context: "no/such/api" } } },
    };
    expect(() => validateEnvironmentConfig(broken, "dev")).toThrow(
      /services\.api\.image\.context: folder "no\/such\/api" \(.*\/no\/such\/api\) does not exist/,
    );
  });

  it("hostile values are refused with the variable named, before any path is used", () => {
    for (const value of ['/srv/${file("/etc/passwd")}', '/srv/up"date', "/srv/x'y", "/srv/updateio\nextra", "/srv/%{x}"]) {
      const problems = problemsOf({ [VAR]: value });
      expect(problems, JSON.stringify(value)).toEqual([
        expect.stringMatching(new RegExp(`^${VAR} \\(environment variable\\): .* is refused`)),
      ]);
    }
  });

  it("a hostile context, Dockerfile or target in the config is refused by the schema, naming the key", () => {
    const base = loadEnvironmentConfig("dev", {});
    const api = base.services.api!;
    const withImage = (image: Json) => ({ ...base, services: { ...base.services, api: { ...api, image: { ...api.image, ...image } } } });
    expect(() => validateEnvironmentConfig(withImage({ context: 'x", "y' }), "dev")).toThrow(/services\.api\.image\.context: must name/);
    expect(() => validateEnvironmentConfig(withImage({ dockerfile: "${path.cwd}" }), "dev")).toThrow(
      /services\.api\.image\.dockerfile: must be/,
    );
    expect(() => validateEnvironmentConfig(withImage({ target: "dev stage" }), "dev")).toThrow(
      /services\.api\.image\.target: must be a Dockerfile stage name/,
    );
  });
});
