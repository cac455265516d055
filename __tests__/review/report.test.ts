/**
 * The report renderer on really synthesized stacks (in-process, __tests__/support/stacks.ts): every
 * service listed, seeds apart, secrets by name only, no upload content or variable value anywhere,
 * protected volumes marked in prod, backups and policy suppressions read back.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { diffStacks } from "../../scripts/review/classify";
import { buildInventory, type StackInventory } from "../../scripts/review/inventory";
import { renderReport } from "../../scripts/review/markdown";
import { mdText } from "../../scripts/review/safe-text";
import { annotationsOfConstructs } from "../../scripts/review/synth";
import { asArray, isRecord, isSeed, label, LABELS, ofType } from "../../scripts/review/terraform-json";
import { buildTopology } from "../../scripts/review/topology";
import { sharedEnvironment, type SynthesizedEnvironment } from "../support/stacks";

interface Rendered {
  readonly env: SynthesizedEnvironment;
  readonly inventory: StackInventory;
  readonly report: string;
}

function render(env: SynthesizedEnvironment): Rendered {
  const inventory = buildInventory(env.name, env.json, annotationsOfConstructs(env.stack));
  const topology = buildTopology(inventory, env.json);
  const report = renderReport({ inventory, topology, json: env.json, picture: { missing: "not rendered in this test" } });
  return { env, inventory, report };
}

let dev: Rendered;
let prod: Rendered;
beforeAll(() => {
  dev = render(sharedEnvironment("dev"));
  prod = render(sharedEnvironment("prod"));
});

const running = (r: Rendered) => ofType(r.env.json, "docker_container").filter((c) => !isSeed(c));
const seeds = (r: Rendered) => ofType(r.env.json, "docker_container").filter(isSeed);
const swarmServices = (r: Rendered) => ofType(r.env.json, "docker_service");
/** The report's section that starts with `heading`, up to the next "## ". */
function section(report: string, heading: string): string {
  const start = report.indexOf(`\n${heading}`);
  if (start < 0) throw new Error(`no section ${heading}`);
  const end = report.indexOf("\n## ", start + heading.length + 1);
  return report.slice(start, end < 0 ? undefined : end);
}

describe.each(["dev", "prod"] as const)("the %s report", (name) => {
  const r = () => (name === "dev" ? dev : prod);

  it("lists every service (io.updateio.service of every container that runs, and of every Swarm service) in the services table", () => {
    const services = new Set([...running(r()), ...swarmServices(r())].map((c) => label(c.body, LABELS.service)!));
    expect(services.size).toBeGreaterThan(10);
    const table = section(r().report, "## Services");
    for (const s of services) expect(table).toContain(`| **${s}**`);
    expect(
      r()
        .inventory.services.map((s) => s.name)
        .sort(),
    ).toEqual([...services].sort());
  });

  it("lists seeds as config/secret carriers, not as services", () => {
    const table = section(r().report, "## Config/secret carriers");
    const services = section(r().report, "## Services");
    for (const seed of seeds(r())) {
      expect(table).toContain(`| ${String(seed.body.name)} |`);
      expect(services).not.toContain(String(seed.body.name));
    }
  });

  it("names every secret file, and prints no upload content and no variable value", () => {
    const report = r().report;
    for (const seed of seeds(r())) {
      for (const upload of asArray(seed.body.upload).filter(isRecord)) {
        const file = String(upload.file);
        if (file.startsWith("/run/secrets/")) expect(report).toContain(file.slice("/run/secrets/".length));
        const content = String(upload.content);
        // Every line of any length worth checking: a file may be printed by name, never by content.
        for (const line of content.split("\n").filter((l) => l.trim().length >= 24)) expect(report).not.toContain(line.trim());
        if (content.length >= 8) expect(report).not.toContain(content);
      }
    }
    for (const variable of Object.values((r().env.json.variable ?? {}) as Record<string, Record<string, unknown>>)) {
      if (typeof variable.default === "string" && variable.default.length > 0) expect(report).not.toContain(variable.default);
    }
    expect(report).not.toMatch(/\$\{random_password\.[^}]*\.result\}/);
    expect(report).not.toContain("${var.");
  });

  it("shows image, digest state, replicas, limits, user and read-only status per service", () => {
    const table = section(r().report, "## Services");
    expect(table).toMatch(
      /\| \*\*postgres\*\* \| data \| postgres:17\.\d+-bookworm \| (tag only \(not pinned\)|sha256:[0-9a-f]{12}…) \| 1 \| \d+ MiB \| \d+ shares, \d+\.\d\d CPU quota \| postgres \| yes \|/,
    );
    const api = r().inventory.services.find((s) => s.name === "api")!;
    // A Swarm service's memory cell adds its reservation: "768 MiB (reserves 192)".
    expect(table).toContain(`| ${api.replicas} | ${api.memoryMb} MiB`);
  });

  it("resolves networks to their Docker names and marks the ones that route out", () => {
    const table = section(r().report, "## Networks");
    expect(table).toContain(`| ${name}-postgres | yes |`);
    const routed = ofType(r().env.json, "docker_network").filter((n) => n.body.internal !== true);
    expect(routed.length).toBeGreaterThan(0);
    for (const n of routed) expect(table).toContain(`| ${String(n.body.name)} | **no** (routed out) |`);
  });

  it("reads the backup schedule and retention from the scheduler script", () => {
    const backups = section(r().report, "## Backups");
    expect(backups).toContain("daily at 02:00");
    expect(backups).toMatch(/Retention: \d+ daily, \d+ weekly, \d+ monthly dumps/);
    expect(backups).toContain("Off-host copy: **no**");
  });

  it("lists the policy suppressions with their written reasons", () => {
    const policy = section(r().report, "## Policy");
    expect(r().inventory.policy.suppressions.length).toBeGreaterThan(3);
    for (const s of r().inventory.policy.suppressions) {
      expect(policy).toContain(`| ${s.ruleId} | ${s.scope} |`);
      expect(s.reason.length).toBeGreaterThanOrEqual(10);
    }
    expect(policy).toContain("one-shot job: a failed migration must stop the apply, not loop");
  });

  it("contains one mermaid block", () => {
    expect(r().report.match(/```mermaid\n/g)?.length).toBe(1);
  });
});

describe("the prod report's Swarm sections (prod runs its app services on Swarm)", () => {
  it("lists every docker_service with its Swarm name, update settings and the values that would replace it", () => {
    const list = swarmServices(prod);
    expect(list.length).toBeGreaterThan(0);
    const swarm = section(prod.report, "## Swarm services");
    const forceNew = swarm.slice(swarm.indexOf("### What replaces a Swarm service"));
    for (const svc of list) {
      const name = label(svc.body, LABELS.service)!;
      expect(swarm).toContain(`| **${name}** | ${String(svc.body.name)} |`);
      expect(forceNew).toContain(`| **${name}** | ${String(svc.body.name)} |`);
      expect(section(prod.report, "## Services")).toContain(`| **${name}** (Swarm service) |`);
    }
  });

  it("names every docker_secret and docker_config by name, never by data or by the expression that derives its name", () => {
    const objects = [...ofType(prod.env.json, "docker_secret"), ...ofType(prod.env.json, "docker_config")];
    const table = section(prod.report, "## Swarm services").slice(
      section(prod.report, "## Swarm services").indexOf("### Swarm secrets and configs"),
    );
    for (const o of objects) {
      expect(prod.report).not.toContain(String(o.body.data));
      const name = String(o.body.name);
      if (name.includes("${")) expect(prod.report).not.toContain(name);
    }
    expect(prod.inventory.swarmObjects.map((o) => o.address).sort()).toEqual(objects.map((o) => o.address).sort());
    // In Markdown form: "<hash of the generated value>" would otherwise render as an (unknown, dropped) HTML tag.
    for (const o of prod.inventory.swarmObjects) expect(table).toContain(`| ${mdText(o.name)} |`);
  });

  it("has nothing that never settles or fails at apply (durations, max_failure_ratio, network ids, overlay options, secret data)", () => {
    expect(prod.report).not.toContain("## Plans that would never settle");
  });
});

describe("differences between environments", () => {
  it("prod marks its data volumes protected (prevent_destroy) and has none unprotected", () => {
    const table = section(prod.report, "## Volumes");
    for (const v of [
      "prod-postgres-data",
      "prod-postgres-backups",
      "prod-redis-data",
      "prod-rabbitmq-1-data",
      "prod-loki-data",
      "prod-grafana-data",
    ]) {
      expect(table).toContain(`| ${v} | protected (prevent_destroy) |`);
    }
    expect(table).not.toContain("UNPROTECTED");
    expect(prod.inventory.volumes.filter((v) => v.protection === "unprotected")).toEqual([]);
  });

  it("dev's data volumes are flagged UNPROTECTED (dev does not protect data)", () => {
    expect(section(dev.report, "## Volumes")).toContain("| dev-postgres-data | **UNPROTECTED** |");
  });

  it("prod publishes 80/443 on every interface and nothing else; dev binds to 127.0.0.1 only", () => {
    const prodPorts = section(prod.report, "## Published ports");
    expect(prodPorts).toContain("| 0.0.0.0:443 | edge:443/tcp | **every interface** |");
    expect(
      prod.inventory.services
        .flatMap((s) => s.ports)
        .map((p) => p.external)
        .sort((a, b) => a - b),
    ).toEqual([80, 443]);
    expect(dev.inventory.services.flatMap((s) => s.ports).every((p) => p.ip === "127.0.0.1")).toBe(true);
  });

  it("prod images are pinned by digest; dev's app images are built from source", () => {
    expect(prod.inventory.images.every((i) => i.digest !== undefined)).toBe(true);
    expect(section(dev.report, "## Services")).toContain("(built from source) | local build |");
  });

  it("a change section on a real stack: prod against itself with a data volume renamed", () => {
    const before = prod.env.json;
    const after = JSON.parse(JSON.stringify(before)) as typeof before;
    const volumes = after.resource.docker_volume!;
    const id = Object.keys(volumes).find((k) => volumes[k]!.name === "prod-postgres-data")!;
    volumes[id]!.name = "prod-postgres-data-v2";
    const diff = diffStacks("prod", before, after);
    const report = renderReport({
      inventory: prod.inventory,
      topology: buildTopology(prod.inventory, after),
      json: after,
      picture: {},
      diff,
      against: "a test",
    });
    const risks = section(report, "## Risks against a test");
    expect(risks).toContain("**DATA LOSS**: prod-postgres-data-v2");
    expect(risks).toContain("**DOWNTIME**: postgres: its only container is replaced");
    expect(report.indexOf("## Risks")).toBeLessThan(report.indexOf("## Services"));
    expect(section(report, "## Changes against a test")).toContain("volume replaced = DATA LOSS (name)");
  });
});
