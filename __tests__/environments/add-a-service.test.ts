/**
 * A service is one config entry: the runbook's status page (routed, uses Postgres and Redis, calls
 * the API) added to `services` synthesizes in every environment, passes the policy pack, and gets
 * exactly the wiring its entry declares, and no more.
 */
import { describe, expect, it } from "vitest";
import { synthWithStatusPage } from "../support/status-page";
import { attachedNetworkNames, resourceNamed, uploadedFile, type TerraformJson } from "../support/stacks";

const byName = (json: TerraformJson, type: string, name: string) => resourceNamed(json, type, name)!;
const networkNames = attachedNetworkNames;

describe("a new service is one entry in services", () => {
  for (const env of ["dev", "test", "prod"] as const) {
    it(`${env}: the status page synthesizes and passes the policy pack`, () => {
      // The policy pack runs as an Aspect during synth: an error finding would throw here.
      const { json } = synthWithStatusPage(env);
      if (env === "dev") expect(byName(json, "docker_container", "dev-status-page")).toBeDefined();
      else expect(byName(json, "docker_service", `${env}-status-page`)).toBeDefined();
    });
  }

  it("dev: joins its own edge network, the API's caller network and the networks of what it uses, nothing else", () => {
    const { json } = synthWithStatusPage("dev");
    const c = byName(json, "docker_container", "dev-status-page");
    const nets = networkNames(json, c.networks_advanced).sort();
    expect(nets).toEqual(["dev-api-status-page", "dev-edge-status-page", "dev-postgres", "dev-redis"].sort());
    // Its network pair with the API: the API joins it too, no other app does.
    const apiNets = networkNames(json, byName(json, "docker_container", "dev-api").networks_advanced);
    expect(apiNets).toContain("dev-api-status-page");
    const miniNets = networkNames(json, byName(json, "docker_container", "dev-mini-app").networks_advanced);
    expect(miniNets).not.toContain("dev-api-status-page");
  });

  it("dev: gets the settings and secret files of Postgres and Redis, and the API's internal URL", () => {
    const { json } = synthWithStatusPage("dev");
    const env: string[] = byName(json, "docker_container", "dev-status-page").env;
    expect(env).toContain("SERVICE_NAME=status-page");
    expect(env).toContain("PORT=3005");
    expect(env).toContain("API_INTERNAL_URL=http://api:3000");
    expect(env.some((e) => e.startsWith("DATABASE_URL_FILE=/run/secrets/"))).toBe(true);
    expect(env.some((e) => e.startsWith("REDIS_"))).toBe(true);
    // Not the broker: it did not ask for it.
    expect(env.some((e) => e.startsWith("AMQP_"))).toBe(false);
  });

  it("dev: the edge serves status.updateio.localhost from it, with health checks", () => {
    const { json } = synthWithStatusPage("dev");
    const caddyfile = uploadedFile(json, "/etc/caddy/Caddyfile") ?? "";
    const site = caddyfile.slice(caddyfile.indexOf("status.updateio.localhost {"));
    expect(caddyfile).toContain("status.updateio.localhost {");
    expect(site.slice(0, site.indexOf("\n}\n"))).toMatch(/reverse_proxy status-page:3005 \{[^}]*health_uri \/health/);
  });

  it("prod: two replicas on Swarm behind the edge, and Prometheus' ContainerMissing alert watches it", () => {
    const { json } = synthWithStatusPage("prod");
    const svc = byName(json, "docker_service", "prod-status-page");
    expect(svc.mode.replicated.replicas).toBe(2);
    const caddyfile = uploadedFile(json, "/etc/caddy/Caddyfile") ?? "";
    expect(caddyfile).toContain("status.updateio.app {");
    expect(caddyfile).toMatch(/dynamic a tasks\.status-page 3005 \{/);
    // The list node-exporter publishes names it; the rules name no service, so they do not change.
    expect(uploadedFile(json, "/expected-services/expected-services.prom")).toContain(
      'updateio_expected_service{container_label_io_updateio_service="status-page",container_label_io_updateio_environment="prod"} 1',
    );
    const rules = uploadedFile(json, "/etc/updateio-prometheus-rules/updateio.yml") ?? "";
    expect(rules).toContain("alert: ContainerMissing");
    expect(rules).not.toContain("status-page");
    expect(rules).toBe(
      uploadedFile(synthWithStatusPage("prod", { statusPage: false }).json, "/etc/updateio-prometheus-rules/updateio.yml"),
    );
  });
});
