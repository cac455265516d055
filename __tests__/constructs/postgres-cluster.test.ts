import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Container } from "@cdktf/provider-docker/lib/container";
import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import { RandomProvider } from "@cdktf/provider-random/lib/provider";
import { TerraformStack, Testing } from "cdktf";
import { afterAll, describe, expect, it } from "vitest";
import { PostgresCluster, type PostgresClusterProps } from "../../constructs/postgres-cluster";

const OUT = mkdtempSync(join(tmpdir(), "postgres-cluster-test-"));
afterAll(() => rmSync(OUT, { recursive: true, force: true }));

const IMAGE = `postgres:17.6-bookworm@sha256:${"f3".repeat(32)}`;
type Json = Record<string, any>;

function build(overrides: Partial<PostgresClusterProps> = {}) {
  const stack = new TerraformStack(Testing.app({ outdir: OUT }), "dev");
  new DockerProvider(stack, "docker", { host: "unix:///var/run/docker.sock" });
  new RandomProvider(stack, "random");
  const pg = new PostgresCluster(stack, "postgres", { environment: "dev", image: IMAGE, memoryMb: 512, ...overrides });
  const text = Testing.synth(stack);
  const json: Json = JSON.parse(text);
  const containers = Object.values(json.resource.docker_container) as Json[];
  const server = containers.find((c) => c.name === "dev-postgres")!;
  const seed = containers.find((c) => c.name === "dev-postgres-seed")!;
  const key = (type: string, name: string) => Object.entries(json.resource[type]).find(([, v]) => (v as Json).name === name)![0];
  return { stack, pg, text, json, server, seed, key };
}

describe("PostgresCluster", () => {
  const { pg, text, json, server, seed, key } = build();

  it("matches its snapshot", () => {
    expect(text).toMatchSnapshot();
  });

  it("runs hardened: read-only, unprivileged postgres user, no capabilities, limits, log rotation", () => {
    expect(text).toHaveResourceWithProperties(Container, {
      name: "dev-postgres",
      user: "postgres",
      read_only: true,
      capabilities: { drop: ["ALL"] },
      security_opts: ["no-new-privileges:true"],
      memory: 512,
      memory_swap: 512,
      cpu_shares: 512,
      restart: "unless-stopped",
      log_driver: "json-file",
      log_opts: { "max-size": "10m", "max-file": "3" },
    });
    expect(server.labels).toContainEqual({ label: "io.updateio.component", value: "data" });
    expect(server.shm_size).toBe(64);
    expect(server.tmpfs).toEqual({ "/tmp": "rw,noexec,nosuid,size=64m", "/var/run/postgresql": "rw,noexec,nosuid,size=8m" });
  });

  it("passes the tuned settings as server arguments (shared_buffers 25% of memory)", () => {
    expect(server.command[0]).toBe("postgres");
    expect(server.command).toContain("shared_buffers=128MB");
    expect(server.command).toContain("effective_cache_size=384MB");
    expect(server.command).toContain("password_encryption=scram-sha-256");
    expect(server.command.filter((a: string) => a === "-c")).toHaveLength((server.command.length - 1) / 2);
  });

  it("sits alone on its own internal network, aliased postgres", () => {
    expect(json.resource.docker_network[key("docker_network", "dev-postgres")].internal).toBe(true);
    expect(server.networks_advanced).toEqual([{ name: `\${docker_network.${key("docker_network", "dev-postgres")}.name}`, aliases: ["postgres"] }]);
    expect(server.ports).toEqual([]);
    expect(pg.host).toBe("postgres");
    expect(pg.port).toBe(5432);
  });

  it("reads the superuser password from a file and generates three passwords", () => {
    expect(server.env).toContain("POSTGRES_PASSWORD_FILE=/run/secrets/postgres_superuser_password");
    expect(server.env).toContain("PGDATA=/var/lib/postgresql/data");
    expect(server.env.some((e: string) => /random_password/.test(e))).toBe(false);
    expect(Object.keys(json.resource.random_password)).toHaveLength(3);
  });

  it("seeds the three password files and a first-boot role SQL file (not executable: the postgres user could not run a root-owned 0744 script)", () => {
    const files = seed.upload.map((u: Json) => [u.file, u.executable]);
    expect(files).toEqual([
      ["/run/secrets/postgres_superuser_password", false],
      ["/run/secrets/postgres_owner_password", false],
      ["/run/secrets/postgres_app_password", false],
      ["/docker-entrypoint-initdb.d/10-updateio-roles.sql", false],
    ]);
    for (const u of seed.upload.slice(0, 3)) expect(u.content).toMatch(/^\$\{random_password\.[^}]+\.result\}$/);
    const script = seed.upload[3].content as string;
    expect(script).toContain("CREATE ROLE updateio_owner LOGIN PASSWORD :'owner_password';");
    expect(script).not.toMatch(/random_password/);
  });

  it("keeps data on a named volume, mounted read-write, unprotected by default", () => {
    const dataVol = key("docker_volume", "dev-postgres-data");
    expect(server.volumes).toContainEqual({ volume_name: `\${docker_volume.${dataVol}.name}`, container_path: "/var/lib/postgresql/data", read_only: false });
    expect(json.resource.docker_volume[dataVol].lifecycle).toBeUndefined();
    expect(pg.dataVolume.protected).toBe(false);
  });

  it("checks readiness over TCP with canonical durations", () => {
    expect(server.healthcheck).toEqual({
      test: ["CMD", "pg_isready", "-h", "127.0.0.1", "-p", "5432", "-U", "postgres", "-d", "postgres"],
      interval: "10s",
      timeout: "5s",
      retries: 6,
      start_period: "1m0s",
    });
    expect(server.wait).toBe(true);
  });

  it("gives clients the app role by default and the owner role for migrations, secrets as files", () => {
    const app = pg.connectionFor();
    expect(app.env).toEqual({ DATABASE_HOST: "postgres", DATABASE_PORT: "5432", DATABASE_NAME: "updateio", DATABASE_USER: "updateio_app" });
    expect(app.secrets.map((s) => [s.name, s.envVar])).toEqual([
      ["database_password", "DATABASE_PASSWORD_FILE"],
      ["database_url", "DATABASE_URL_FILE"],
    ]);
    expect(app.network).toBe(pg.network);
    expect(app.ready).toEqual(pg.service.containers);
    expect(pg.connectionFor("migrations").env.DATABASE_USER).toBe("updateio_owner");
    expect(() => pg.connectionFor("admin")).toThrow(/connection role "admin" is unknown/);
  });
});

describe("PostgresCluster options", () => {
  it("protects the data volume when asked (prod)", () => {
    const { json, key, pg } = build({ protectData: true });
    expect(json.resource.docker_volume[key("docker_volume", "dev-postgres-data")].lifecycle).toEqual({ prevent_destroy: true });
    expect(pg.dataVolume.protected).toBe(true);
    // secret and config volumes are rebuilt from config and never protected
    expect(json.resource.docker_volume[key("docker_volume", "dev-postgres-secrets")].lifecycle).toBeUndefined();
  });

  it("uses the database name for the roles and lets explicit settings win", () => {
    const { server, pg } = build({ database: "billing", settings: { max_connections: 42 }, memoryMb: 2048, cpuShares: 2048 });
    expect(pg.ownerRole).toBe("billing_owner");
    expect(pg.appRole).toBe("billing_app");
    expect(server.command).toContain("max_connections=42");
    expect(server.command).toContain("shared_buffers=512MB");
    expect(server.cpu_shares).toBe(2048);
    expect(server.shm_size).toBe(256);
  });

  it("rejects a database name that is not a short lowercase SQL identifier", () => {
    expect(() => build({ database: "Update-IO" })).toThrow(/database "Update-IO" must be a lowercase SQL identifier/);
    expect(() => build({ database: "a".repeat(52) })).toThrow(/at most 51 characters/);
  });
});
