/**
 * A change that only touches a reloadable setting: the settings file's seed and the reload job are
 * replaced, no server is, and the review says the settings are reloaded in place (no downtime).
 * On a hand-made fixture, then on the real prod stack synthesized twice.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Testing } from "cdktf";
import { afterAll, describe, expect, it } from "vitest";
import { CONFIG_RELOAD_ROLE } from "../../constructs/contract/index";
import { EnvironmentStack } from "../../environments/environment-stack";
import { loadEnvironmentConfig } from "../../environments/load";
import { diffStacks, reviewExitCode } from "../../scripts/review/classify";
import { risksSection } from "../../scripts/review/markdown";
import { LABELS, type Body } from "../../scripts/review/terraform-json";
import { synthWithStatusPage } from "../support/status-page";
import { addresses, baseStack, change, containers, type Stack } from "./fixtures";
import { synthText } from "../support/synth-text";

const labels = (service: string, component: string, extra: Record<string, string> = {}) =>
  Object.entries({ [LABELS.project]: "updateio", [LABELS.service]: service, [LABELS.component]: component, ...extra }).map(
    ([label, value]) => ({ label, value }),
  );

/** The base fixture plus db reading a live settings file, and a reload job that re-runs with it. */
function withReload(workMem: string): Stack {
  const s = baseStack();
  s.resource.docker_volume!.settings = { name: "t-db-settings", labels: labels("db", "data", { [LABELS.ephemeral]: "true" }) };
  const c = containers(s);
  c.settings_seed = {
    name: "t-db-settings-seed",
    image: "${docker_image.img.image_id}",
    labels: labels("db", "seed"),
    start: false,
    must_run: false,
    memory: 16,
    upload: [{ file: "/etc/db-settings/db.conf", content: `work_mem = '${workMem}'\n`, executable: false }],
    volumes: [{ container_path: "/etc/db-settings", read_only: false, volume_name: "${docker_volume.settings.name}" }],
  };
  c.db!.volumes = [
    ...(c.db!.volumes as Body[]),
    { container_path: "/etc/db-settings", read_only: true, volume_name: "${docker_volume.settings.name}" },
  ];
  c.db!.depends_on = ["docker_container.settings_seed"];
  c.reload_seed = {
    name: "t-db-reload-seed",
    image: "${docker_image.img.image_id}",
    labels: labels("db-reload", "seed"),
    start: false,
    must_run: false,
    memory: 16,
    upload: [{ file: "/etc/reload/check.sql", content: `('work_mem', '${workMem}')`, executable: false }],
  };
  c.reload = {
    name: "t-db-reload",
    image: "${docker_image.img.image_id}",
    labels: labels("db-reload", "job", { [LABELS.role]: CONFIG_RELOAD_ROLE }),
    restart: "no",
    must_run: false,
    read_only: true,
    depends_on: ["docker_container.reload_seed", "docker_container.settings_seed", "docker_container.db"],
    lifecycle: { replace_triggered_by: ["docker_container.reload_seed"] },
  };
  return s;
}

describe("a reloadable-setting-only change (fixture)", () => {
  const d = diffStacks("t", withReload("4MB"), withReload("8MB"));

  it("replaces the settings seed and re-runs the reload job, and nothing else", () => {
    expect(addresses(d)).toEqual(["docker_container.reload", "docker_container.reload_seed", "docker_container.settings_seed"]);
    expect(change(d, "docker_container.settings_seed").consequence).toBe(
      "seed replaced, its files are uploaded again (upload (/etc/db-settings/db.conf))",
    );
    expect(change(d, "docker_container.reload").action).toBe("replace");
  });

  it("is no downtime: reported as reloaded in place, the server untouched", () => {
    expect(d.downtime).toEqual([]);
    expect(d.dataLoss).toEqual([]);
    expect(d.warnings).toEqual([
      "t-db-reload (one-shot job) runs again: the change is applied to the running servers in place, no restart",
    ]);
    expect(reviewExitCode([d])).toBe(0);
    expect(risksSection(d).join("\n")).toContain("applied to the running servers in place, no restart");
  });

  it("an ordinary one-shot job keeps the plain wording", () => {
    const plain = (s: Stack) => {
      containers(s).reload!.labels = labels("db-reload", "job");
      return s;
    };
    expect(diffStacks("t", plain(withReload("4MB")), plain(withReload("8MB"))).warnings).toEqual(["t-db-reload (one-shot job) runs again"]);
  });
});

describe("a reloadable-setting-only change on the synthesized prod stack", () => {
  const OUT = mkdtempSync(join(tmpdir(), "review-reload-test-"));
  afterAll(() => rmSync(OUT, { recursive: true, force: true }));
  const synth = (settings: Record<string, string>, dir: string) => {
    const config = loadEnvironmentConfig("prod", {});
    const stack = new EnvironmentStack(Testing.app({ outdir: join(OUT, dir) }), "prod", {
      ...config,
      postgres: { ...config.postgres, settings },
    });
    return JSON.parse(synthText(stack));
  };
  const before = synth({ statement_timeout: "30s" }, "a");
  const after = synth({ statement_timeout: "60s", work_mem: "8MB" }, "b");
  const d = diffStacks("prod", before, after);
  const label = (address: string) => change(d, address).label;

  it("replaces only the settings seed, the reload job and its seed: no Postgres server, replica, pooler or client", () => {
    // The kit's secrets-owner job re-runs with the job's seed (its uploads are root-owned again).
    const changed = d.changed
      .map((c) => c.address)
      .map(label)
      .filter((n) => !n.endsWith("-secrets-owner"));
    expect(changed.sort()).toEqual(["prod-postgres-reload", "prod-postgres-reload-seed", "prod-postgres-settings-seed"]);
    expect(d.added).toEqual([]);
    expect(d.removed).toEqual([]);
    expect(d.downtime).toEqual([]);
    expect(d.staged === undefined || d.staged.conflicts.length === 0).toBe(true);
    expect(d.warnings.filter((w) => !w.includes("-secrets-owner "))).toEqual([
      "prod-postgres-reload (one-shot job) runs again: the change is applied to the running servers in place, no restart",
    ]);
    expect(reviewExitCode([d])).toBe(0);
  });

  it("a restart-only change, by contrast, replaces the primary and its replica (downtime)", () => {
    const restart = diffStacks("prod", before, synth({ statement_timeout: "30s", max_wal_senders: "12" }, "c"));
    expect(restart.downtime.map((x) => x.service)).toEqual(expect.arrayContaining(["postgres", "postgres-replica-1"]));
  });
});

/** The prod stack without the new service, which every prodWithNewService compares with: synthesized once. */
let prodWithoutNewService: Stack | undefined;

/**
 * The real prod stack, before and after one more app service: the mini app's entry without routes
 * or secrets (the add-a-service runbook's case), changed by `entry`. Call it inside a describe.
 */
function prodWithNewService(name: string, entry: Record<string, unknown>): { before: Stack; after: Stack } {
  const out = mkdtempSync(join(tmpdir(), `review-new-${name}-`));
  afterAll(() => rmSync(out, { recursive: true, force: true }));
  const synth = (withService: boolean, dir: string) => {
    const config = loadEnvironmentConfig("prod", {});
    const services = { ...config.services };
    if (withService) services[name] = { ...structuredClone(config.services["mini-app"]!), routes: [], secrets: [], ...entry };
    return JSON.parse(synthText(new EnvironmentStack(Testing.app({ outdir: join(out, dir) }), "prod", { ...config, services })));
  };
  const before = (prodWithoutNewService ??= synth(false, "a"));
  return { before, after: synth(true, "b") };
}

describe("on the real prod stack: a new app service that uses Redis", () => {
  // It only adds a Redis user.
  const { before, after } = prodWithNewService("status-page", { uses: ["redis"] });
  const d = diffStacks("prod", before, after);
  const label = (address: string) => change(d, address).label;
  const redisChanges = d.changed.map((c) => label(c.address)).filter((n) => n.startsWith("prod-redis"));

  it("loads the new user into the running nodes: only the ACL file's seed and the reload job change, no Redis node or Sentinel", () => {
    expect(redisChanges.filter((n) => !n.endsWith("-secrets-owner")).sort()).toEqual([
      "prod-redis-acl-reload",
      "prod-redis-acl-reload-seed",
      "prod-redis-acl-seed",
    ]);
    expect(d.downtime.filter((x) => x.service.startsWith("redis"))).toEqual([]);
    expect(d.staged === undefined || d.staged.conflicts.length === 0).toBe(true);
    expect(d.warnings).toContain(
      "prod-redis-acl-reload (one-shot job) runs again: the change is applied to the running servers in place, no restart",
    );
  });
});

describe("on the real prod stack: a new service leaves Grafana running, and Prometheus unless it serves metrics", () => {
  // ContainerMissing reads the list of services from node-exporter's live config, not from its rule.
  const observability = (name: string, entry: Record<string, unknown>) => {
    const { before, after } = prodWithNewService(name, entry);
    const d = diffStacks("prod", before, after);
    const touched = [...d.added, ...d.removed, ...d.changed].map((c) => change(d, c.address).label);
    return {
      touched: touched.filter((n) => /prometheus|grafana|node-exporter/.test(n)).sort(),
      down: d.downtime.filter((x) => /prometheus|grafana|node-exporter/.test(x.service)).map((x) => x.service),
    };
  };
  const quiet = observability("status-page", { uses: ["redis"], metrics: undefined });
  const scraped = observability("status-page", { uses: ["redis"], metrics: { path: "/metrics" } });

  it("without metrics: only node-exporter's list of services changes (its seed), no Prometheus, Grafana or node-exporter container", () => {
    expect(quiet.touched).toEqual(["prod-node-exporter-expected-services-seed"]);
    expect(quiet.down).toEqual([]);
  });

  it("with metrics: Prometheus joins its metrics network and loads its scrape job (replaced); Grafana still stays", () => {
    expect(scraped.touched).toEqual(["prod-node-exporter-expected-services-seed", "prod-prometheus", "prod-prometheus-seed"]);
    expect(scraped.down).toEqual(["prometheus"]);
  });
});

describe("on the real prod stack: a new app service that uses RabbitMQ", () => {
  // It only adds a RabbitMQ user.
  const { before, after } = prodWithNewService("notifier", {
    uses: ["rabbitmq"],
    messaging: { publishes: ["updateio.events"], consumes: ["notifications.telegram"] },
  });
  const d = diffStacks("prod", before, after);
  const label = (address: string) => change(d, address).label;
  const rabbitChanges = d.changed.map((c) => label(c.address)).filter((n) => n.startsWith("prod-rabbitmq"));
  const seedText = (stack: Stack, name: string) =>
    JSON.stringify(Object.values(stack.resource.docker_container ?? {}).find((c) => c.name === name));

  it("applies the new user to the running cluster: only the users job and its seed change, no broker node or its seed", () => {
    expect(rabbitChanges.filter((n) => !n.endsWith("-secrets-owner")).sort()).toEqual(["prod-rabbitmq-users", "prod-rabbitmq-users-seed"]);
    expect(rabbitChanges.filter((n) => /^prod-rabbitmq-\d/.test(n))).toEqual([]);
    for (const n of [1, 2, 3]) expect(seedText(after, `prod-rabbitmq-${n}-seed`)).toBe(seedText(before, `prod-rabbitmq-${n}-seed`));
    // The new user is in the job's secret file, and in no node's.
    expect(seedText(after, "prod-rabbitmq-users-seed")).toContain('\\"name\\":\\"notifier\\"');
    expect(seedText(after, "prod-rabbitmq-1-seed")).not.toContain("notifier");
  });

  it("is no broker downtime and needs no staged apply", () => {
    // Adding any service also touches what serves it (the api it calls, Prometheus, Grafana): that is
    // not the broker's, and none of it is staged.
    expect(d.downtime.filter((x) => x.service.startsWith("rabbitmq"))).toEqual([]);
    expect(d.staged === undefined || d.staged.conflicts.length === 0).toBe(true);
    expect(reviewExitCode([d])).not.toBe(4);
    expect(d.warnings).toContain(
      "prod-rabbitmq-users (one-shot job) runs again: the change is applied to the running servers in place, no restart",
    );
  });

  it("adds the new app's own resources only, its RabbitMQ password among them", () => {
    expect(d.removed).toEqual([]);
    const added = d.added.map((a) => label(a.address));
    expect(added.filter((n) => !n.includes("notifier"))).toEqual([]);
    expect(added).toContain("random_password.rabbitmq_notifier-password_D05D908F");
  });
});

/**
 * The edge's Caddyfile is a live config: a route change replaces its seed and re-runs the edge's
 * reload job (`caddy reload` through the admin socket), and the edge container stays. A new routed
 * service still replaces it: the edge joins the new service's network.
 */
describe("on the real stacks: a route change reloads the edge in place", () => {
  const edgeChanges = (d: ReturnType<typeof diffStacks>) =>
    [...d.added, ...d.removed, ...d.changed].map((c) => change(d, c.address).label).filter((n) => /-edge(-|$)/.test(n));
  const RELOADED = ["edge-caddyfile-seed", "edge-reload", "edge-reload-seed"];
  const prod = synthWithStatusPage("prod", { statusPage: false }).json;

  it("prod: another host for the API replaces only the Caddyfile's seed and the reload job, with no downtime (exit 0)", () => {
    const d = diffStacks("prod", prod, synthWithStatusPage("prod", { statusPage: false, apiHosts: ["status.updateio.app"] }).json);
    expect(edgeChanges(d).sort()).toEqual(RELOADED.map((n) => `prod-${n}`));
    expect(d.downtime).toEqual([]);
    expect(d.warnings).toContain(
      "prod-edge-reload (one-shot job) runs again: the change is applied to the running servers in place, no restart",
    );
    expect(reviewExitCode([d])).toBe(0);
  });

  it("dev: a second API replica (the Caddyfile names every replica) reloads the edge and adds the replica, nothing else of the edge", () => {
    // A debug port forwards to one replica: dev refuses it with more than one.
    const synth = (replicas: number) =>
      synthWithStatusPage("dev", {
        statusPage: false,
        editService: (name, s) => (name === "api" ? { ...s, replicas, debugPorts: [] } : s),
      }).json as Stack;
    const d = diffStacks("dev", synth(1), synth(2));
    expect(d.added.map((c) => c.label)).toEqual(expect.arrayContaining(["dev-api-1", "dev-api-2"]));
    expect(edgeChanges(d).sort()).toEqual(RELOADED.map((n) => `dev-${n}`));
    expect(d.downtime.map((x) => x.service)).not.toContain("edge");
  });

  it("a new routed service, by contrast, replaces the edge: it joins the new service's network", () => {
    const d = diffStacks("prod", prod, synthWithStatusPage("prod").json);
    expect(d.downtime.map((x) => x.service)).toContain("edge");
    const edge = d.changed.find((c) => change(d, c.address).label === "prod-edge")!;
    expect(edge.attributes).toContain("networks_advanced");
  });
});
