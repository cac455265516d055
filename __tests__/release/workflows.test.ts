/** The release workflow, prod's digest check before the apply, and Renovate's config, read as the tools will. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ROOT, SERVICES } from "./fixtures";

const text = (path: string) => readFileSync(join(ROOT, path), "utf8");
const release = parse(text(".github/workflows/release.yml"));
const infrastructure = parse(text(".github/workflows/infrastructure.yml"));
const renovate = JSON.parse(text("renovate.json"));

type Step = {
  id?: string;
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
  if?: string;
};
const stepsOf = (workflow: any, job: string): Step[] => workflow.jobs[job].steps;

/** Inputs, event fields, branch names and repository variables reach a script through env, never as text of it. */
function expectNoInjection(workflow: any): void {
  for (const job of Object.keys(workflow.jobs))
    for (const step of stepsOf(workflow, job))
      expect(step.run ?? "", `${job}: ${step.name}`).not.toMatch(
        /\$\{\{\s*(inputs|github\.event|github\.(ref_name|base_ref|head_ref)|vars)\b/,
      );
}

describe("release.yml", () => {
  it("pins every action by full commit SHA with its version as a comment", () => {
    const uses = text(".github/workflows/release.yml")
      .split("\n")
      .filter((l) => /^\s*(- )?uses:/.test(l));
    expect(uses.length).toBeGreaterThanOrEqual(8);
    for (const line of uses) expect(line).toMatch(/uses: [\w.-]+\/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/);
  });

  it("builds one image per service of the catalogue", () => {
    expect(release.jobs.build.strategy.matrix.include.map((e: { service: string }) => e.service)).toEqual(SERVICES);
  });

  it("builds with BuildKit, target runtime, pushed, with provenance, from the service's source or the reference service", () => {
    const build = stepsOf(release, "build").find((s) => s.uses?.startsWith("docker/build-push-action@"))!;
    expect(build.with).toMatchObject({ target: "runtime", push: true, provenance: "mode=max" });
    expect(stepsOf(release, "build").some((s) => s.uses?.startsWith("docker/setup-buildx-action@"))).toBe(true);
    expect(text(".github/workflows/release.yml")).toContain('dir="examples/reference-service"');
    expect(text("examples/reference-service/Dockerfile")).toMatch(/^FROM .* AS runtime$/m);
  });

  it("writes the pins with release:pins, checks them with release:check, and opens a pull request", () => {
    const steps = stepsOf(release, "pull-request");
    const at = (pred: (s: Step) => boolean) => steps.findIndex(pred);
    const pins = at((s) => s.run?.includes("npm run release:pins") ?? false);
    const check = at((s) => s.run?.includes("npm run release:check -- --env prod") ?? false);
    const pr = at((s) => s.uses?.startsWith("peter-evans/create-pull-request@") ?? false);
    expect(pins).toBeGreaterThan(-1);
    expect(check).toBeGreaterThan(pins);
    expect(pr).toBeGreaterThan(check);
    expect(steps[pr]!.with).toMatchObject({ "add-paths": "environments/releases.json" });
  });

  it("never interpolates an input or event field into a script (template injection)", () => expectNoInjection(release));

  it("grants each job only what it needs (nothing at the top)", () => {
    expect(release.permissions).toEqual({});
    expect(release.jobs.build.permissions).toEqual({ contents: "read", packages: "write" });
  });
});

describe("infrastructure.yml", () => {
  it("never interpolates an input or event field into a script (template injection)", () => expectNoInjection(infrastructure));

  it("posts the comment the review wrote (within GitHub's limit), not a byte cut of the reports", () => {
    const comment = stepsOf(infrastructure, "test-and-review").find((s) => s.run?.includes("gh pr comment"))!;
    expect(comment.run).toContain("--body-file cdktf.out/review/pull-request-comment.md");
    expect(comment.run).not.toMatch(/head -c|cat /);
  });

  it("holds a staged prod apply to the stages the approved review showed (--expect-plan, through env)", () => {
    expect(infrastructure.jobs["review-prod-change"].outputs.plan).toBe("${{ steps.review.outputs.plan }}");
    const review = stepsOf(infrastructure, "review-prod-change").find((s) => s.id === "review")!;
    expect(review.run).toMatch(/echo "plan=\$plan" >> "\$GITHUB_OUTPUT"/);
    const staged = stepsOf(infrastructure, "deploy-prod").find((s) => s.run?.includes("npm run apply:staged"))!;
    expect(staged.env).toEqual({ EXPECT_PLAN: "${{ needs.review-prod-change.outputs.plan }}" });
    expect(staged.run).toContain('--expect-plan "$EXPECT_PLAN"');
  });

  it("checks the pinned digests before any prod apply, with the registry credentials", () => {
    const steps = stepsOf(infrastructure, "deploy-prod");
    const check = steps.findIndex((s) => s.run === "npm run release:check -- --env prod");
    const applies = steps.map((s, i) => (/cdktf deploy|apply:staged/.test(s.run ?? "") ? i : -1)).filter((i) => i >= 0);
    expect(check).toBeGreaterThan(-1);
    expect(applies.length).toBeGreaterThan(0);
    for (const i of applies) expect(i).toBeGreaterThan(check);
    expect(infrastructure.jobs["deploy-prod"].env).toMatchObject({
      TF_VAR_registry_username: "${{ secrets.TF_VAR_REGISTRY_USERNAME }}",
      TF_VAR_registry_password: "${{ secrets.TF_VAR_REGISTRY_PASSWORD }}",
    });
  });
});

describe("renovate.json", () => {
  const manager = renovate.customManagers.find((m: { managerFilePatterns: string[] }) =>
    m.managerFilePatterns.includes("/^environments/images\\.ts$/"),
  );

  it("has a regex manager that finds every pinned image of environments/images.ts, tag and digest", () => {
    const images = text("environments/images.ts");
    const pattern = new RegExp(manager.matchStrings[0], "g");
    const found = [...images.matchAll(pattern)].map((m) => m.groups!);
    expect(found.length).toBe((images.match(/@sha256:[0-9a-f]{64}/g) ?? []).length);
    expect(found).toContainEqual({
      depName: "quay.io/prometheuscommunity/postgres-exporter",
      currentValue: expect.stringMatching(/^v\d/),
      currentDigest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
    });
    expect(manager.datasourceTemplate).toBe("docker");
  });

  it("pins npm exactly, keeps examples/reference-service in scope, pins action digests, groups and schedules", () => {
    expect(renovate.rangeStrategy).toBe("pin");
    // config:recommended ignores **/examples/**; the reference service's dependencies must be updated too.
    expect(renovate.ignorePaths.some((p: string) => p.includes("examples"))).toBe(false);
    expect(renovate.extends).toContain("helpers:pinGitHubActionDigestsToSemver");
    expect(renovate.schedule).toEqual(["before 6am on monday"]);
    expect(renovate.packageRules.filter((r: { groupName?: string }) => r.groupName).length).toBeGreaterThanOrEqual(4);
  });
});
