/**
 * `npm run bench`, section 5 (the Swarm stacks vs the container stacks): the resource counts it
 * prints, and the test environment switched to the container runtime through the schema.
 */
import { describe, expect, it } from "vitest";
import { ConfigError, loadEnvironmentConfig, validateEnvironmentConfig } from "../../environments/load";
import { CONTAINER_REPLICA_LIMIT } from "../../environments/schema";
import { onContainers, resourceCounts } from "../../scripts/bench/runtime";

describe("resource counts per stack", () => {
  it("counts each Docker type and every resource in the total", () => {
    const counts = resourceCounts({
      resource: {
        docker_container: { a: {}, b: {} },
        docker_service: { api: {} },
        docker_secret: { s1: {}, s2: {}, s3: {} },
        docker_config: { c: {} },
        docker_network: { n: {} },
        docker_image: { i: {} },
        docker_volume: { v1: {}, v2: {} },
        random_password: { p: {} },
      },
    });
    expect(counts).toEqual({ containers: 2, services: 1, secrets: 3, configs: 1, networks: 1, images: 1, volumes: 2, total: 12 });
    expect(resourceCounts({}).total).toBe(0);
  });
});

describe("the test environment on containers", () => {
  it("keeps everything but the runtime, which the schema accepts without Swarm-only keys", () => {
    const test = loadEnvironmentConfig("test");
    expect(test.runtime.kind).toBe("swarm");
    const onBoth = onContainers(test);
    expect(onBoth.runtime).toEqual({ kind: "containers" });
    expect({ ...onBoth, runtime: test.runtime }).toEqual(test);
  });

  it("is refused by the schema when the container runtime cannot run it", () => {
    const test = loadEnvironmentConfig("test");
    const wide = validateEnvironmentConfig({
      ...test,
      services: { ...test.services, api: { ...test.services.api, replicas: CONTAINER_REPLICA_LIMIT + 1 } },
    });
    expect(() => onContainers(wide)).toThrow(ConfigError);
    expect(() => onContainers(wide)).toThrow(/services\.api\.replicas/);
  });
});
