import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { ENVIRONMENTS } from "../../environments/load";
import { describeIfBinary } from "../support/binaries";
import { synthEnvironment, uploadedFile } from "../support/stacks";

// The Caddyfile each environment actually ships (the edge seed's upload), checked by the real caddy.
describeIfBinary("caddy", "generated Caddyfiles pass the real caddy", () => {
  const dir = mkdtempSync(join(tmpdir(), "updateio-caddy-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const env = { ...process.env, HOME: dir, XDG_DATA_HOME: join(dir, "data"), XDG_CONFIG_HOME: join(dir, "config") };

  for (const name of ENVIRONMENTS) {
    it(`${name}: caddy validate accepts it and caddy adapt routes every host`, () => {
      const { stack, json } = synthEnvironment(name, {}, join(dir, "cdktf.out"));
      const caddyfile = uploadedFile(json, "/etc/caddy/Caddyfile");
      expect(caddyfile, "edge seed uploads /etc/caddy/Caddyfile").toBeDefined();
      const file = join(dir, `${name}.Caddyfile`);
      writeFileSync(file, caddyfile!);

      const validate = spawnSync("caddy", ["validate", "--adapter", "caddyfile", "--config", file], {
        env,
        encoding: "utf8",
        timeout: 30_000,
      });
      expect(validate.status, validate.stderr).toBe(0);

      const adapt = spawnSync("caddy", ["adapt", "--adapter", "caddyfile", "--config", file], { env, encoding: "utf8", timeout: 30_000 });
      expect(adapt.status, adapt.stderr).toBe(0);
      const config = JSON.parse(adapt.stdout);
      const text = JSON.stringify(config);
      const hosts = stack.config.hosts;
      for (const host of [hosts.api, hosts.admin, hosts.miniApp]) expect(text).toContain(`"${host}"`);
      const apiPort = stack.config.services.api.port;
      if (stack.config.runtime.kind === "swarm") {
        // Swarm: the API's tasks come from DNS (tasks.api, re-resolved every second), with passive checks and retries.
        expect(
          config.apps.http.servers.srv0.routes.flatMap((r: any) => JSON.stringify(r).match(/"dynamic_upstreams":\{[^}]*\}/g) ?? []),
        ).toContain(`"dynamic_upstreams":{"name":"tasks.api","port":"${apiPort}","refresh":1000000000,"source":"a"}`);
        expect(text).toContain('"passive":{"fail_duration":30000000000}');
      } else {
        // Every API replica is an upstream, with active health checks.
        const apis = Object.values(json.resource.docker_container).filter((c: any) => /^(dev|test|prod)-api(-\d+)?$/.test(c.name));
        expect(apis.length).toBeGreaterThan(0);
        for (const container of apis) expect(text).toContain(`"${container.hostname}:${apiPort}"`);
        expect(text).toContain('"uri":"/health"');
      }
      // Grafana stays a container behind static upstreams with active checks (when it is routed).
      if (name !== "prod") expect(text).toContain('"uri":"/api/health"');
      if (name === "prod") expect(text).toContain('"module":"acme"');
      else expect(text).toContain('"module":"internal"');
    });
  }
});
