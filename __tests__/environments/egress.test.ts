/**
 * An app service's route to the internet is its catalogue entry's `egress`, the same in every
 * environment: dev's debug ports must not give the API a non-internal network that test and prod
 * lack (an outbound call that works in dev would fail there). Read from the synthesized JSON.
 */
import { describe, expect, it } from "vitest";
import { loadEnvironmentConfig } from "../../environments/load";
import { sharedEnvironment, type TerraformJson } from "../support/stacks";

type Json = Record<string, any>;
const ENVIRONMENTS = ["dev", "test", "prod"] as const;

const label = (r: Json, name: string): string | undefined =>
  ((r.labels ?? []) as { label: string; value: string }[]).find((l) => l.label === name)?.value;

/** The docker_network a `${docker_network.<key>.name|id}` reference points at. */
function networkOf(json: TerraformJson, ref: string): Json {
  const key = /^\$\{docker_network\.([^.]+)\.(?:name|id)\}$/.exec(ref)?.[1];
  const net = key ? json.resource.docker_network?.[key] : undefined;
  if (!net) throw new Error(`network reference ${ref} names no docker_network`);
  return net;
}

/** Long-running app workloads by service name, with the networks each joins (containers or Swarm services). */
function appNetworks(json: TerraformJson): Map<string, Json[]> {
  const out = new Map<string, Json[]>();
  const add = (service: string | undefined, refs: Json[]) => {
    if (service === undefined) return;
    out.set(service, [...(out.get(service) ?? []), ...refs.map((n) => networkOf(json, n.name as string))]);
  };
  for (const c of Object.values(json.resource.docker_container ?? {}) as Json[]) {
    // Seeds and one-shot jobs (the migration job, secrets owners) never serve: their networks are not a service's.
    if (label(c, "io.updateio.component") !== "app" || c.must_run === false || c.start === false) continue;
    add(label(c, "io.updateio.service"), c.networks_advanced ?? []);
  }
  for (const s of Object.values(json.resource.docker_service ?? {}) as Json[]) {
    if (label(s, "io.updateio.component") !== "app") continue;
    add(label(s, "io.updateio.service"), s.task_spec?.networks_advanced ?? []);
  }
  return out;
}

describe("egress is the catalogue's, in every environment", () => {
  for (const env of ENVIRONMENTS) {
    it(`${env}: the app services on a non-internal network are exactly those with egress: true`, () => {
      const services = loadEnvironmentConfig(env, {}).services;
      const json = sharedEnvironment(env).json;
      const networks = appNetworks(json);
      // Every catalogue service is found (so an empty set below is not a lookup that found nothing).
      expect([...networks.keys()].filter((s) => s in services).sort()).toEqual(Object.keys(services).sort());
      const outside = [...networks].filter(([s, nets]) => s in services && nets.some((n) => n.internal !== true)).map(([s]) => s);
      const declared = Object.entries(services)
        .filter(([, cfg]) => cfg.egress)
        .map(([s]) => s);
      expect(outside.sort()).toEqual(declared.sort());
      expect(declared.length).toBeGreaterThan(0);
    });
  }

  it("dev: the API's debug port goes through a forwarder on its own non-internal network, and the API publishes nothing", () => {
    const json = sharedEnvironment("dev").json;
    const containers = Object.values(json.resource.docker_container ?? {}) as Json[];
    const api = containers.find((c) => c.name === "dev-api")!;
    expect(api.ports ?? []).toEqual([]);
    expect(api.env).toContain("INSPECT_ADDRESS=0.0.0.0:9229");
    expect((api.env as string[]).some((e) => e.startsWith("NODE_OPTIONS="))).toBe(false);
    const forward = containers.find((c) => c.name === "dev-api-debug-9229")!;
    expect(forward.ports).toEqual([expect.objectContaining({ internal: 9229, external: 9229, ip: "127.0.0.1" })]);
    const nets = (forward.networks_advanced as Json[]).map((n) => networkOf(json, n.name as string));
    expect(nets.map((n) => [n.name, n.internal])).toEqual([
      ["dev-api-debug-9229", false],
      ["dev-api-debug", true],
    ]);
    // The API's side of the pair: the forwarder is its only other member.
    const members = containers.filter((c) =>
      ((c.networks_advanced ?? []) as Json[]).some((n) => networkOf(json, n.name as string).name === "dev-api-debug"),
    );
    expect(members.map((c) => c.name).sort()).toEqual(["dev-api", "dev-api-debug-9229"]);
    expect(forward.command).toEqual(["TCP-LISTEN:9229,fork,reuseaddr", "TCP:api:9229"]);
    expect(forward.user).toBe("65534:65534");
    expect(forward.read_only).toBe(true);
  });

  it("test and prod have no forwarders and publish nothing but the edge", () => {
    for (const env of ["test", "prod"] as const) {
      const json = sharedEnvironment(env).json;
      const containers = Object.values(json.resource.docker_container ?? {}) as Json[];
      expect(containers.filter((c) => (c.entrypoint ?? [])[0] === "socat").map((c) => c.name)).toEqual([]);
      expect(json.output?.dev_database_url).toBeUndefined();
    }
  });
});
