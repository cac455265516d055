/**
 * How a service's callers reach it: a network per caller and callee (the default, callers cannot
 * reach each other), or one `<callee>-callers` network they all share (inbound "shared"). On Swarm
 * a service joins a network only by being replaced (provider 3.6.2 treats networks_advanced as
 * ForceNew: every task stops), so only the shared network lets a new caller leave the callee as it is.
 */
import { describe, expect, it } from "vitest";
import { loadEnvironmentConfig } from "../../environments/load";
import { diffStacks, reviewExitCode } from "../../scripts/review/classify";
import { mutatedProblems, problemAt } from "../support/config-problems";
import { synthWithStatusPage } from "../support/status-page";
import { attachedNetworkNames, resourceNamed, type TerraformJson } from "../support/stacks";

const byName = (json: TerraformJson, type: string, name: string) => resourceNamed(json, type, name)!;
/** The networks a Swarm service (test, prod) or a container (dev) joins, by name. */
const networksOf = (json: TerraformJson, env: string, service: string): string[] => {
  const svc = resourceNamed(json, "docker_service", `${env}-${service}`);
  const attachments: { name: string }[] = svc
    ? (svc.task_spec[0]?.networks_advanced ?? svc.task_spec.networks_advanced)
    : byName(json, "docker_container", `${env}-${service}`).networks_advanced;
  return attachedNetworkNames(json, attachments).sort();
};
const networkNames = (json: TerraformJson) => Object.values(json.resource.docker_network ?? {}).map((n) => n.name as string);
const API_CALLERS = ["admin-panel", "discord-bot", "mini-app", "telegram-bot"];

describe("prod: adding a service that calls the API", () => {
  const perCaller = { before: synthWithStatusPage("prod", { statusPage: false }).json, after: synthWithStatusPage("prod").json };
  const shared = {
    before: synthWithStatusPage("prod", { statusPage: false, apiInbound: "shared" }).json,
    after: synthWithStatusPage("prod", { apiInbound: "shared" }).json,
  };

  it("per caller (the default): the API joins a new network, so the review reports the API replaced", () => {
    expect(networksOf(perCaller.after, "prod", "api")).toContain("prod-api-status-page");
    expect(byName(perCaller.after, "docker_service", "prod-api")).not.toEqual(byName(perCaller.before, "docker_service", "prod-api"));
    expect(diffStacks("prod", perCaller.before, perCaller.after).downtime.map((d) => d.service)).toContain("api");
  });

  it("shared: the API is left exactly as it was, and the review reports no API downtime", () => {
    expect(byName(shared.after, "docker_service", "prod-api")).toEqual(byName(shared.before, "docker_service", "prod-api"));
    expect(diffStacks("prod", shared.before, shared.after).downtime.map((d) => d.service)).not.toContain("api");
  });

  it("shared: the API and every caller meet on prod-api-callers; no per-caller network to the API is left", () => {
    for (const svc of ["api", "status-page", ...API_CALLERS])
      expect(networksOf(shared.after, "prod", svc), svc).toContain("prod-api-callers");
    expect(
      networkNames(shared.after).filter((n) => n.startsWith("prod-api-") && n !== "prod-api-callers" && n !== "prod-api-metrics"),
    ).toEqual([]);
    // What is not a caller stays off it.
    expect(networksOf(shared.after, "prod", "prometheus")).not.toContain("prod-api-callers");
  });
});

describe("inbound shared before anything calls the service", () => {
  it("dev: the API joins api-callers with no caller yet, so the first caller changes nothing of the API's", () => {
    const { json } = synthWithStatusPage("dev", { statusPage: false, apiInbound: "shared", editService: (_, s) => ({ ...s, calls: [] }) });
    expect(networksOf(json, "dev", "api")).toContain("dev-api-callers");
    for (const svc of API_CALLERS) expect(networksOf(json, "dev", svc), svc).not.toContain("dev-api-callers");
    const { json: called } = synthWithStatusPage("dev", { statusPage: false, apiInbound: "shared" });
    expect(byName(called, "docker_container", "dev-api")).toEqual(byName(json, "docker_container", "dev-api"));
  });
});

describe("the inbound key", () => {
  const base = loadEnvironmentConfig("dev", {});
  it.each([["both"], ["Shared"], [""], [true]])("refuses %j, naming the key and the choices", (value) => {
    const problems = mutatedProblems("dev", base, (c) => (c.services.api.inbound = value));
    expect(problemAt(problems, "services.api.inbound")).toMatch(/must be "per-caller" or "shared"/);
  });
});

/**
 * The edge's side: a network per routed service (the default), or one `edge-apps` network that the
 * edge joins from the start and every routed app service joins (edge.appNetwork "shared"). The edge
 * is one container, and a container joins a network only by being replaced.
 */
describe("edge.appNetwork", () => {
  // Each variant is synthesized once for the tests that compare it (the JSON is only read).
  const synthesized = new Map<string, TerraformJson>();
  const withEdge = (env: "dev" | "prod", appNetwork: "per-service" | "shared", statusPage: boolean) => {
    const key = `${env} ${appNetwork} ${statusPage}`;
    if (!synthesized.has(key))
      synthesized.set(key, synthWithStatusPage(env, { statusPage, apiInbound: "shared", edgeAppNetwork: appNetwork }).json);
    return synthesized.get(key)!;
  };
  const edgeNetworks = (json: TerraformJson, env: string) => networksOf(json, env, "edge");

  it("shared: every routed app service and the edge meet on edge-apps; Grafana and the VPN keep their own; no edge-<app> network is left", () => {
    const json = withEdge("prod", "shared", true);
    for (const svc of ["api", "admin-panel", "mini-app", "telegram-bot", "status-page"])
      expect(networksOf(json, "prod", svc), svc).toContain("prod-edge-apps");
    expect(edgeNetworks(json, "prod").filter((n) => n.startsWith("prod-edge-"))).toEqual([
      "prod-edge-apps",
      "prod-edge-grafana",
      "prod-edge-metrics",
    ]);
    // Not routed: never on it.
    expect(networksOf(json, "prod", "discord-bot")).not.toContain("prod-edge-apps");
    expect(networksOf(json, "prod", "grafana")).not.toContain("prod-edge-apps");
  });

  it("shared: adding a routed service leaves the edge container exactly as it was, and the review reports no edge downtime", () => {
    const before = withEdge("prod", "shared", false);
    const after = withEdge("prod", "shared", true);
    expect(byName(after, "docker_container", "prod-edge")).toEqual(byName(before, "docker_container", "prod-edge"));
    const d = diffStacks("prod", before, after);
    expect(d.downtime.map((x) => x.service)).not.toContain("edge");
    // The new route reaches the running edge through its reload job.
    expect(d.warnings).toContain(
      "prod-edge-reload (one-shot job) runs again: the change is applied to the running servers in place, no restart",
    );
  });

  it("shared, with the API on inbound shared: adding the runbook's status page stops nothing at all (review exit 0)", () => {
    // No network to join (edge, API), and ContainerMissing's list lives in node-exporter's live config (Prometheus, Grafana).
    const d = diffStacks("prod", withEdge("prod", "shared", false), withEdge("prod", "shared", true));
    expect(d.downtime).toEqual([]);
    expect(reviewExitCode([d])).toBe(0);
  });

  it("per-service (the default): the edge joins the new service's network, so the review reports it replaced", () => {
    const d = diffStacks("prod", withEdge("prod", "per-service", false), withEdge("prod", "per-service", true));
    expect(d.downtime.map((x) => x.service)).toContain("edge");
  });

  it("dev, shared, with no routed service at all: the edge is already on edge-apps", () => {
    const { json } = synthWithStatusPage("dev", {
      statusPage: false,
      edgeAppNetwork: "shared",
      editService: (_, s) => ({ ...s, routes: [] }),
    });
    expect(edgeNetworks(json, "dev")).toContain("dev-edge-apps");
  });

  it.each([["both"], ["Shared"], [""], [false]])("refuses %j, naming the key and the choices", (value) => {
    const base = loadEnvironmentConfig("dev", {});
    const problems = mutatedProblems("dev", base, (c) => (c.edge.appNetwork = value));
    expect(problemAt(problems, "edge.appNetwork")).toMatch(/must be "per-service" or "shared"/);
  });
});
