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

      const validate = spawnSync("caddy", ["validate", "--adapter", "caddyfile", "--config", file], { env, encoding: "utf8", timeout: 30_000 });
      expect(validate.status, validate.stderr).toBe(0);

      const adapt = spawnSync("caddy", ["adapt", "--adapter", "caddyfile", "--config", file], { env, encoding: "utf8", timeout: 30_000 });
      expect(adapt.status, adapt.stderr).toBe(0);
      const config = JSON.parse(adapt.stdout);
      const text = JSON.stringify(config);
      const hosts = stack.config.hosts;
      for (const host of [hosts.api, hosts.admin, hosts.miniApp]) expect(text).toContain(`"${host}"`);
      // Every API replica is an upstream, with active health checks.
      for (const container of Object.values(json.resource.docker_container)) {
        if (/^(dev|test|prod)-api(-\d+)?$/.test(container.name)) expect(text).toContain(`"${container.hostname}:${stack.config.services.api.port}"`);
      }
      expect(text).toContain('"uri":"/health"');
      if (name === "prod") expect(text).toContain('"module":"acme"');
      else expect(text).toContain('"module":"internal"');
    });
  }
});
