/**
 * Per-environment variables (UPDATEIO_DEV_*, UPDATEIO_TEST_*, UPDATEIO_PROD_*): one environment's
 * values never change another's, old global names are refused with their replacements, booleans
 * and dependent settings are strict, and values prod refuses are warnings in dev and test.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ENVIRONMENTS, loadEnvironmentConfig, loadEnvironments } from "../../environments/load";
import { replacementsOf, VARIABLES, variableNames, type VariableKey } from "../../environments/variables";
import { buildEnvironment, sharedEnvironment, synthEnvironment } from "../support/stacks";
import { fakeSourceRoot, PROJECT_ROOT } from "../support/dev-sources";
import { loadProblems } from "../support/config-problems";

const PEER_KEY = `${"A".repeat(43)}=`;
const OUT = mkdtempSync(join(tmpdir(), "config-variables-"));
afterAll(() => rmSync(OUT, { recursive: true, force: true }));

const problems = (env: string, vars: Record<string, string>): string[] => loadProblems(env, vars);

/** The one problem line naming `variable`; every refusal names the variable the user set. */
function refusal(env: string, vars: Record<string, string>, variable = Object.keys(vars)[0]!): string {
  const lines = problems(env, vars);
  const line = lines.find((l) => l.startsWith(`${variable} (environment variable`));
  expect(line, `no problem names ${variable}:\n${lines.join("\n")}`).toBeDefined();
  return line!;
}

/** The config warnings EnvironmentStack annotates on itself while it is built (no synthesis needed). */
const warningsOf = (env: "dev" | "test" | "prod", vars: Record<string, string>): string[] =>
  buildEnvironment(env, vars, OUT)
    .node.metadata.filter((m) => m.type === "@cdktf/warn")
    .map((m) => String(m.data));

describe("one namespace per environment", () => {
  it("a value set for one environment changes no other", () => {
    const vars = {
      UPDATEIO_PROD_DOCKER_HOST: "ssh://deploy@prod-host",
      UPDATEIO_DEV_EDGE_HTTP_PORT: "8080",
      UPDATEIO_DEV_GRAFANA_EXPOSE: "localhost",
      UPDATEIO_TEST_ADMIN_ALLOW: "203.0.113.0/24",
    };
    const { configs, errors, global } = loadEnvironments(ENVIRONMENTS, vars);
    expect([errors.map((e) => e.message), global]).toEqual([[], []]);
    const [dev, test, prod] = ENVIRONMENTS.map((e) => configs.find((c) => c.name === e)!);
    expect(dev!.dockerHost).toBe("unix:///var/run/docker.sock");
    expect(test!.dockerHost).toBe("unix:///var/run/docker.sock");
    expect(prod!.dockerHost).toBe("ssh://deploy@prod-host");
    expect([dev!.edge.httpPort, test!.edge.httpPort, prod!.edge.httpPort]).toEqual([8080, 8081, 80]);
    expect([dev!.observability.grafana.expose, test!.observability.grafana.expose, prod!.observability.grafana.expose]).toEqual([
      "localhost",
      "edge",
      "edge",
    ]);
    expect(prod!.edge.adminAllowList).toEqual([]);
    expect(test!.edge.adminAllowList).toEqual(["203.0.113.0/24"]);
  });

  it("the prod Docker engine is never a dev target", () => {
    expect(
      refusal("dev", { UPDATEIO_DEV_DOCKER_HOST: "ssh://me@prod-host:2222", UPDATEIO_PROD_DOCKER_HOST: "ssh://deploy@PROD-host" }),
    ).toMatch(/is prod's Docker engine \(UPDATEIO_PROD_DOCKER_HOST\); dev never deploys there/);
    // dev's default (the local socket) is refused on the prod host itself
    expect(refusal("dev", { UPDATEIO_PROD_DOCKER_HOST: "unix:///var/run/docker.sock" }, "UPDATEIO_DEV_DOCKER_HOST")).toMatch(
      /the default "unix:\/\/\/var\/run\/docker\.sock" is prod's Docker engine/,
    );
    expect(problems("dev", { UPDATEIO_PROD_DOCKER_HOST: "ssh://deploy@prod-host" })).toEqual([]);
  });

  it("a problem in prod's variables does not block dev, and every environment reports its own", () => {
    const vars = { UPDATEIO_PROD_GRAFANA_EXPOSE: "localhost", UPDATEIO_PROD_ADMIN_ALLOW: "0.0.0.0/0", UPDATEIO_TEST_EDGE_HTTP_PORT: "x" };
    expect(loadEnvironments(["dev"], vars).errors).toEqual([]);
    const all = loadEnvironments(ENVIRONMENTS, vars);
    expect(all.configs.map((c) => c.name)).toEqual(["dev"]);
    expect(all.errors.map((e) => e.environment)).toEqual(["test", "prod"]);
    const prod = all.errors[1]!.problems.join("\n");
    expect(prod).toMatch(/UPDATEIO_PROD_GRAFANA_EXPOSE \(environment variable\): applies to dev and test only/);
    expect(prod).toMatch(
      /UPDATEIO_PROD_ADMIN_ALLOW \(environment variable, edge\.adminAllowList\.0\): "0\.0\.0\.0\/0" admits \(nearly\) every address .*prod refuses it/,
    );
    expect(all.errors[0]!.problems.join("\n")).toMatch(/UPDATEIO_TEST_EDGE_HTTP_PORT/);
  });

  it("a variable that one environment has exists only in that namespace", () => {
    expect(refusal("dev", { UPDATEIO_DEV_TFC_WORKSPACE: "x" })).toMatch(
      /applies to test and prod only .*set UPDATEIO_TEST_TFC_WORKSPACE \/ UPDATEIO_PROD_TFC_WORKSPACE/,
    );
    expect(refusal("dev", { UPDATEIO_DEV_DOMAIN: "example.org" })).toMatch(/applies to test and prod only/);
    expect(refusal("test", { UPDATEIO_TEST_SOURCE_ROOT: "/src" })).toMatch(/set UPDATEIO_DEV_SOURCE_ROOT/);
    expect(refusal("prod", { UPDATEIO_PROD_DOMIAN: "x.app" })).toMatch(/is not a variable prod reads; prod reads .*UPDATEIO_PROD_DOMAIN/);
    expect(variableNames("dev")).not.toContain("UPDATEIO_DEV_ACME_EMAIL");
    expect(variableNames("prod")).not.toContain("UPDATEIO_PROD_SOURCE_ROOT");
  });
});

describe("migration from the global names", () => {
  for (const key of Object.keys(VARIABLES) as VariableKey[]) {
    it(`UPDATEIO_${key} is refused in every environment, naming ${replacementsOf(key).join(", ")}`, () => {
      for (const env of ENVIRONMENTS) {
        const line = refusal(env, { [`UPDATEIO_${key}`]: "1" });
        expect(line).toMatch(/is no longer read/);
        for (const name of replacementsOf(key)) expect(line).toContain(name);
      }
    });
  }

  it("an unknown UPDATEIO_* name outside the namespaces is refused everywhere", () => {
    for (const env of ENVIRONMENTS)
      expect(refusal(env, { UPDATEIO_STAGING_DOMAIN: "x" })).toMatch(/UPDATEIO_DEV_\*, UPDATEIO_TEST_\* and UPDATEIO_PROD_\*/);
  });
});

describe("booleans", () => {
  const spellings: [string, boolean][] = [
    ["1", true],
    ["0", false],
    ["true", true],
    ["FALSE", false],
    ["Yes", true],
    ["no", false],
    ["ON", true],
    ["off", false],
  ];
  for (const [value, on] of spellings) {
    it(`"${value}" is ${on ? "on" : "off"}`, () => {
      const prod = loadEnvironmentConfig("prod", { UPDATEIO_PROD_ALERT_DISCORD: value });
      expect(prod.observability.alerting.discord).toBe(on);
    });
  }
  for (const value of ["enabled", "2", "y", "truee"]) {
    it(`"${value}" is refused, not read as off`, () => {
      expect(refusal("dev", { UPDATEIO_DEV_VPN: value })).toMatch(/is not on or off; write 1\/0, true\/false, yes\/no or on\/off/);
      expect(refusal("prod", { UPDATEIO_PROD_ALERT_DISCORD: value })).toMatch(/is not on or off/);
    });
  }
});

describe("settings that need another setting", () => {
  it("VPN peers, endpoint or key without the VPN are refused", () => {
    for (const key of ["VPN_PEERS", "VPN_ENDPOINT", "VPN_KEY"] as const) {
      const value = key === "VPN_PEERS" ? `alice:${PEER_KEY}:10.13.13.2/32` : key === "VPN_KEY" ? "supplied" : "vpn.example.org";
      expect(refusal("test", { [`UPDATEIO_TEST_${key}`]: value })).toMatch(
        /has no effect while UPDATEIO_TEST_VPN is off; set UPDATEIO_TEST_VPN=on/,
      );
    }
  });

  it("a VPN peer must have exactly three fields", () => {
    expect(
      refusal("dev", { UPDATEIO_DEV_VPN: "on", UPDATEIO_DEV_VPN_PEERS: `alice:${PEER_KEY}:10.13.13.2/32:extra` }, "UPDATEIO_DEV_VPN_PEERS"),
    ).toMatch(/entry 1 has 4 fields \(want 3\)/);
    expect(refusal("dev", { UPDATEIO_DEV_VPN: "on", UPDATEIO_DEV_VPN_PEERS: `alice:${PEER_KEY}` }, "UPDATEIO_DEV_VPN_PEERS")).toMatch(
      /entry 1 has 2 fields/,
    );
    expect(
      refusal("dev", { UPDATEIO_DEV_VPN: "on", UPDATEIO_DEV_VPN_PEERS: `alice:${PEER_KEY}:10.13.13.2/32,` }, "UPDATEIO_DEV_VPN_PEERS"),
    ).toMatch(/entry 2 is empty/);
    expect(
      refusal("dev", { UPDATEIO_DEV_VPN: "on", UPDATEIO_DEV_VPN_PEERS: "alice:notakey:10.13.13.2/32" }, "UPDATEIO_DEV_VPN_PEERS"),
    ).toMatch(/\(environment variable, vpn\.peers\.0\.publicKey\): must be a WireGuard public key/);
  });

  it("off-host region or provider without endpoint and bucket, and one of endpoint/bucket alone, are refused", () => {
    expect(refusal("prod", { UPDATEIO_PROD_BACKUP_OFFSITE_REGION: "eu-central-1" })).toMatch(
      /has no effect without UPDATEIO_PROD_BACKUP_OFFSITE_ENDPOINT and UPDATEIO_PROD_BACKUP_OFFSITE_BUCKET/,
    );
    expect(refusal("test", { UPDATEIO_TEST_BACKUP_OFFSITE_PROVIDER: "Minio" })).toMatch(/has no effect without/);
    expect(refusal("prod", { UPDATEIO_PROD_BACKUP_OFFSITE_ENDPOINT: "https://s3.example.com" })).toMatch(
      /has no effect without UPDATEIO_PROD_BACKUP_OFFSITE_BUCKET/,
    );
  });

  it("an admin allow-list of only commas is refused, and none means nobody", () => {
    expect(refusal("dev", { UPDATEIO_DEV_ADMIN_ALLOW: ",,," })).toMatch(/entry 1 is empty/);
    expect(refusal("dev", { UPDATEIO_DEV_ADMIN_ALLOW: "10.0.0.0/8," })).toMatch(/entry 2 is empty/);
    expect(loadEnvironmentConfig("dev", { UPDATEIO_DEV_ADMIN_ALLOW: "none" }).edge.adminAllowList).toEqual([]);
  });
});

describe("dangerous but valid: refused in prod, a warning annotation elsewhere", () => {
  const cases: { name: string; key: string; value: string; extra?: Record<string, string>; prodSays: RegExp; envs: ("dev" | "test")[] }[] =
    [
      {
        name: "an allow-list for every IPv4 address",
        key: "ADMIN_ALLOW",
        value: "0.0.0.0/0",
        prodSays: /admits \(nearly\) every address/,
        envs: ["dev", "test"],
      },
      {
        name: "an allow-list for every IPv6 address",
        key: "ADMIN_ALLOW",
        value: "10.0.0.0/8,::/0",
        prodSays: /"::\/0" admits/,
        envs: ["dev", "test"],
      },
      {
        name: "a plain-TCP Docker host",
        key: "DOCKER_HOST",
        value: "tcp://10.0.0.5:2375",
        prodSays: /plain TCP: anyone who reaches that port controls the Docker engine/,
        envs: ["dev", "test"],
      },
      {
        name: "an http:// off-host endpoint",
        key: "BACKUP_OFFSITE_ENDPOINT",
        value: "http://minio.internal:9000",
        extra: { BACKUP_OFFSITE_BUCKET: "backups" },
        prodSays: /plain http/,
        envs: ["test"],
      },
      { name: "the VPN without peers", key: "VPN", value: "on", prodSays: /VPN is on without peers/, envs: ["dev", "test"] },
    ];
  for (const c of cases) {
    it(
      c.name,
      () => {
        const vars = (env: string) =>
          Object.fromEntries(Object.entries({ [c.key]: c.value, ...c.extra }).map(([k, v]) => [`UPDATEIO_${env.toUpperCase()}_${k}`, v]));
        expect(refusal("prod", vars("prod"), `UPDATEIO_PROD_${c.key}`)).toMatch(new RegExp(`${c.prodSays.source}.*prod refuses it`));
        for (const env of c.envs) {
          const warnings = warningsOf(env, vars(env));
          expect(
            warnings.find((w) => w.includes(`UPDATEIO_${env.toUpperCase()}_${c.key}`) && c.prodSays.test(w)),
            warnings.join("\n"),
          ).toBeDefined();
        }
      },
      30_000,
    );
  }

  it("the defaults carry none of these warnings", () => {
    for (const env of ["dev", "test"] as const) {
      const warnings = sharedEnvironment(env)
        .stack.node.metadata.filter((m) => m.type === "@cdktf/warn")
        .map((m) => String(m.data));
      expect(warnings.filter((w) => /prod refuses this/.test(w))).toEqual([]);
    }
  }, 30_000);
});

describe("UPDATEIO_DEV_SOURCE_ROOT", () => {
  const contexts = (vars: Record<string, string>) => {
    const json = synthEnvironment("dev", vars, OUT).json;
    return Object.values(json.resource.docker_image)
      .filter((i: any) => i.build)
      .map((i: any) => [i.build.context, i.triggers.dockerfile]);
  };

  // Synth checks that the checkouts exist: stand-ins under OUT.
  const root = fakeSourceRoot(join(OUT, "src"));

  it("an absolute path is used as written, as a literal (not re-rooted under the project)", () => {
    const [[context, dockerfile]] = contexts({ UPDATEIO_DEV_SOURCE_ROOT: `${root}/` });
    expect(context).toBe(`${root}/admin-panel`);
    expect(dockerfile).toBe(`\${filesha256("${root}/admin-panel/Dockerfile")}`);
  }, 30_000);

  it("a relative path is resolved from the project root by Terraform", () => {
    const rel = relative(PROJECT_ROOT, root);
    const [[context]] = contexts({ UPDATEIO_DEV_SOURCE_ROOT: rel });
    expect(context).toBe(`\${abspath(join("/", [path.root, "../../..", "${rel}/admin-panel"]))}`);
  }, 30_000);

  it("~ and characters outside the path allow-list are refused", () => {
    expect(refusal("dev", { UPDATEIO_DEV_SOURCE_ROOT: "~/updateio" })).toMatch(/nothing expands here/);
    expect(refusal("dev", { UPDATEIO_DEV_SOURCE_ROOT: "/my projects/updateio" })).toMatch(/letters, digits and \. _ - \+ @ \/ only/);
  });
});
