import { Container } from "@cdktf/provider-docker/lib/container";
import { describe, expect, it } from "vitest";
import { ServiceImage } from "../../constructs/kit/service-image";
import { MigrationJob } from "../../constructs/app/migration-job";
import { PostgresCluster } from "../../constructs/postgres/postgres-cluster";
import type { AppServiceSettings } from "../../constructs/app/app-settings";
import { PROD_API_SETTINGS } from "../support/construct-app-settings";
import { API_IMAGE, POSTGRES_IMAGE } from "../support/construct-images";
import { synthConstruct } from "../support/construct-harness";
import { errorOf } from "../support/helpers";
import { testOutdir, testStack, type Json } from "../support/test-stack";

const OUT = testOutdir("migration-job-test");

// More replicas and a debug port: the job must still run once and publish nothing.
const apiConfig: AppServiceSettings = {
  ...PROD_API_SETTINGS,
  replicas: 3,
  memoryMb: 768,
  features: { newOnboarding: true },
  debugPorts: [9229],
};

describe("MigrationJob", () => {
  const stack = testStack(OUT, "prod");
  const postgres = new PostgresCluster(stack, "postgres", {
    environment: "prod",
    image: POSTGRES_IMAGE,
    memoryMb: 512,
  });
  const image = new ServiceImage(stack, "api-image", { ref: API_IMAGE });
  const job = new MigrationJob(stack, "migrations", {
    environment: "prod",
    image,
    apiConfig,
    postgres,
    command: ["npx", "prisma", "migrate", "deploy"],
    memoryMb: 512,
    logLevel: "info",
  });
  const { text, containers, named, key, ref, server: c } = synthConstruct(stack, "prod-api-migrate");

  it("is its own job construct: one container (plus seed and secrets owner) at the paths the job always had", () => {
    const names = containers.map((x) => x.name as string).filter((n) => n.startsWith("prod-api-migrate"));
    expect(names.sort()).toEqual(["prod-api-migrate", "prod-api-migrate-secrets-owner", "prod-api-migrate-seed"]);
    expect(job.service.node.path).toBe("prod/migrations/job/service");
  });

  it("refuses bad props, naming the field and the fix", () => {
    const message = errorOf(
      () =>
        new MigrationJob(stack, "bad", {
          environment: "prod",
          image,
          apiConfig: { ...apiConfig, port: 0 },
          postgres,
          command: [],
          memoryMb: 16,
          logLevel: "info",
        }),
    );
    expect(message).toMatch(/^  - command: is empty; pass the migrate command/m);
    expect(message).toMatch(/^  - memoryMb: 16 must be a whole number of MiB ≥ 64/m);
    expect(message).toMatch(/^  - apiConfig\.port: 0 must be the API's port/m);
  });

  it("is a one-shot job: attached, not kept running, never restarted, checked on its exit code", () => {
    expect(text).toHaveResourceWithProperties(Container, {
      name: "prod-api-migrate",
      attach: true,
      logs: true,
      must_run: false,
      restart: "no",
    });
    expect(c.lifecycle.postcondition).toEqual([
      {
        condition: "${self.exit_code == 0}",
        error_message: "prod-api-migrate did not exit 0; read its logs with: docker logs prod-api-migrate",
      },
    ]);
    expect(c.wait).toBeUndefined();
    expect(c.healthcheck).toBeUndefined();
    expect(c.labels).toContainEqual({ label: "io.updateio.component", value: "job" });
  });

  it("keeps the secure defaults of every container", () => {
    expect(c).toMatchObject({
      read_only: true,
      capabilities: { drop: ["ALL"] },
      security_opts: ["no-new-privileges:true"],
      privileged: false,
      user: "1000:1000",
      memory: 512,
      memory_swap: 512,
    });
    expect(c.log_opts).toEqual({ "max-size": "10m", "max-file": "3" });
  });

  it("runs once with the API's image and the migrate command, whatever the API's replicas and debug ports", () => {
    expect(
      containers.filter((x) => x.name.startsWith("prod-api-migrate") && x.start !== false && !x.name.endsWith("-secrets-owner")),
    ).toHaveLength(1);
    expect(job.containers).toHaveLength(1);
    expect(c.image).toBe(`\${docker_image.${key("docker_image", API_IMAGE)}.image_id}`);
    expect(c.command).toEqual(["npx", "prisma", "migrate", "deploy"]);
    expect(c.ports).toEqual([]);
    expect(c.env).toContain("FEATURE_NEW_ONBOARDING=true");
  });

  it("connects as the schema owner, over the postgres network only, after postgres is healthy", () => {
    expect(c.env).toContain("DATABASE_USER=updateio_owner");
    expect(c.env).toContain("DATABASE_URL_FILE=/run/secrets/database_url");
    expect(c.networks_advanced).toEqual([{ name: ref("docker_network", "prod-postgres"), aliases: ["api-migrate"] }]);
    expect(c.depends_on).toContain(`docker_container.${key("docker_container", "prod-postgres")}`);
    const seed = named("prod-api-migrate-seed");
    const url = seed.upload.find((u: Json) => u.file === "/run/secrets/database_url").content;
    expect(url).toMatch(
      /^postgresql:\/\/updateio_owner:\$\{urlencode\(random_password\.postgres_owner-password_[0-9A-F]+\.result\)\}@postgres:5432\/updateio\?schema=public$/,
    );
  });
});
