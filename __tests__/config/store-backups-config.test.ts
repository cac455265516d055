/** The `backups` config section and the four backups budgets: defaults per environment, and what is refused. */
import { describe, expect, it } from "vitest";
import { loadEnvironmentConfig, type EnvironmentName } from "../../environments/load";
import { mutatedProblems } from "../support/config-problems";

const STORES = ["redis", "rabbitmq", "grafana", "edge"] as const;

const problems = (env: EnvironmentName, mutate: (c: any) => void): string[] => mutatedProblems(env, loadEnvironmentConfig(env, {}), mutate);

describe("backups config", () => {
  it("test and prod back up every store, dev none; the Grafana job's image is pinned by digest where digests are required", () => {
    for (const env of ["test", "prod"] as const) {
      const b = loadEnvironmentConfig(env, {}).backups;
      for (const store of STORES) expect(b[store].enabled, `${env} ${store}`).toBe(true);
      expect(b.grafana.image).toMatch(/^python:[0-9.]+-alpine[0-9.]*@sha256:[0-9a-f]{64}$/);
    }
    const dev = loadEnvironmentConfig("dev", {}).backups;
    for (const store of STORES) expect(dev[store].enabled, `dev ${store}`).toBe(false);
    expect(dev.grafana.image).not.toContain("@sha256:");
  });

  it("every environment budgets the four backups volumes", () => {
    for (const env of ["dev", "test", "prod"] as const) {
      const b = loadEnvironmentConfig(env, {}).budgets;
      for (const key of ["redisBackups", "rabbitmqBackups", "grafanaBackups", "edgeBackups"] as const)
        expect(b[key], `${env} ${key}`).toBeGreaterThanOrEqual(16);
    }
  });

  it.each([
    [
      "an interval that does not divide a day",
      (c: any) => Object.assign(c.backups.redis, { everyMinutes: 7, at: "00:01" }),
      "backups.redis.everyMinutes",
    ],
    [
      "an offset not below the interval",
      (c: any) => Object.assign(c.backups.rabbitmq, { everyMinutes: 60, at: "01:00" }),
      "backups.rabbitmq.at",
    ],
    ["an interval without its offset", (c: any) => Object.assign(c.backups.edge, { everyMinutes: 120 }), "backups.edge.at"],
    ["a malformed offset", (c: any) => Object.assign(c.backups.grafana, { everyMinutes: 60, at: "1:5" }), "backups.grafana.at"],
    ["keeping nothing", (c: any) => Object.assign(c.backups.redis, { keep: 0 }), "backups.redis.keep"],
    ["an unknown key", (c: any) => Object.assign(c.backups.redis, { retention: 3 }), "backups.redis"],
    ["a store section left out", (c: any) => delete c.backups.edge, "backups.edge"],
    ["a missing budget", (c: any) => delete c.budgets.redisBackups, "budgets.redisBackups"],
    ["the Grafana job's image without digest", (c: any) => (c.backups.grafana.image = "python:3.13-alpine"), "backups.grafana.image"],
  ])("prod refuses %s", (_name, mutate, path) => {
    const found = problems("prod", mutate);
    expect(
      found.some((p) => p.startsWith(`${path}`)),
      found.join("\n"),
    ).toBe(true);
  });

  it("accepts a full override", () => {
    expect(problems("prod", (c) => Object.assign(c.backups.redis, { everyMinutes: 30, at: "00:10", keep: 96 }))).toEqual([]);
  });
});
