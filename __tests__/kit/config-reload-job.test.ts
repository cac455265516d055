import { describe, expect, it } from "vitest";
import { CONFIG_RELOAD_ROLE } from "../../constructs/contract/index";
import { ConfigReloadJob, type ConfigReloadJobProps } from "../../constructs/kit/config-reload-job";
import { PlatformNetwork } from "../../constructs/kit/platform-network";
import { ServiceImage } from "../../constructs/kit/service-image";
import { evaluatePolicy, suppressionsOf, blockingFindings } from "../../constructs/policy/policy-aspect";
import { WORKER_IMAGE } from "../support/construct-kit-service";
import { containerNamed, testOutdir, testStack, type Json } from "../support/test-stack";
import { synthText } from "../support/synth-text";

const OUT = testOutdir("config-reload-job-test");

function build(overrides: Partial<ConfigReloadJobProps> = {}) {
  const stack = testStack(OUT, "dev");
  const network = new PlatformNetwork(stack, "net", { environment: "dev", purpose: "store" });
  const image = new ServiceImage(stack, "image", { ref: WORKER_IMAGE });
  const server = new PlatformNetwork(stack, "other", { environment: "dev", purpose: "other" });
  const job = new ConfigReloadJob(stack, "reload", {
    environment: "dev",
    service: "store-reload",
    image,
    user: "65534",
    dir: "/etc/store-reload",
    script: { name: "reload.sh", content: "set -eu\necho reloaded\n" },
    files: [{ name: "expected.conf", content: "a = 1\n" }],
    network,
    applies: "loads the store's file",
    dependsOn: [server.resource],
    ...overrides,
  });
  const json = JSON.parse(synthText(stack)) as Json;
  return { stack, job, json, job_container: containerNamed(json, "dev-store-reload")! };
}

describe("ConfigReloadJob", () => {
  it("is a one-shot job with the config-reload role that runs its script with sh, 32 MB by default", () => {
    const { job, job_container: c } = build();
    expect(job.spec.role).toBe(CONFIG_RELOAD_ROLE);
    expect(job.spec.component).toBe("job");
    expect(c.labels).toContainEqual({ label: "io.updateio.role", value: CONFIG_RELOAD_ROLE });
    expect(c.command).toEqual(["sh", "/etc/store-reload/reload.sh"]);
    expect(c.entrypoint).toBeUndefined();
    expect(c.memory).toBe(32);
    // One-shot: apply waits for its exit code, and it never restarts.
    expect(c.must_run).toBe(false);
    expect(c.restart).toBe("no");
    expect(c.healthcheck).toBeUndefined();
  });

  it("waits for what it is told to wait for", () => {
    const { json, job_container: c } = build();
    const other = Object.keys(json.resource.docker_network).find((k) => json.resource.docker_network[k].name === "dev-other");
    expect(c.depends_on).toContain(`docker_network.${other}`);
  });

  it("puts the script and its files in one read-only directory, uploaded through its seed", () => {
    const { job, json } = build();
    const seed = containerNamed(json, "dev-store-reload-seed");
    expect(job.seed).toBeDefined();
    const files = (seed?.upload as Json[]).map((u) => u.file);
    expect(files).toEqual(expect.arrayContaining(["/etc/store-reload/reload.sh", "/etc/store-reload/expected.conf"]));
  });

  it("runs the script as the entrypoint when asked, and takes another memory size", () => {
    const { job_container: c } = build({ asEntrypoint: true, memoryMb: 256 });
    expect(c.entrypoint).toEqual(["sh", "/etc/store-reload/reload.sh"]);
    expect(c.command).toBeUndefined();
    expect(c.memory).toBe(256);
  });

  it("is exempt from the healthcheck and restart-policy rules for its own image only, and passes the dev policy", () => {
    const { stack, job } = build();
    const mine = suppressionsOf(job).filter((s) => s.constructPath === job.node.path);
    expect(mine.map((s) => s.ruleId).sort()).toEqual(["healthcheck", "restart-policy"]);
    for (const s of mine) expect(s.image).toBe("registry.example/worker");
    expect(mine.find((s) => s.ruleId === "restart-policy")?.reason).toContain("it loads the store's file once per change");
    expect(blockingFindings(evaluatePolicy(stack, { environment: "dev" }))).toEqual([]);
  });

  it("joins the servers' network by default, and with no network gets network_mode none (never the default bridge)", () => {
    const { json, job_container: c } = build();
    const net = Object.keys(json.resource.docker_network).find((k) => json.resource.docker_network[k].name === "dev-store");
    expect(c.networks_advanced).toEqual([{ name: `\${docker_network.${net}.name}`, aliases: ["store-reload"] }]);
    expect(c.network_mode).toBeUndefined();
    const { stack, job_container: alone } = build({ network: undefined });
    expect(alone.network_mode).toBe("none");
    expect(alone.networks_advanced).toBeUndefined();
    expect(blockingFindings(evaluatePolicy(stack, { environment: "dev" }))).toEqual([]);
  });

  it("runs as root only with rootReason, recorded as a non-root suppression for its image", () => {
    const root = build({ user: "0:0", rootReason: "the image has no other user and the socket is root's" });
    expect(root.job_container.user).toBe("0:0");
    expect(suppressionsOf(root.job).find((s) => s.ruleId === "non-root")?.reason).toBe(
      "the image has no other user and the socket is root's",
    );
    expect(blockingFindings(evaluatePolicy(root.stack, { environment: "dev" }))).toEqual([]);
    // Without the reason, root is refused, naming the key and the fix.
    expect(() => build({ user: "0:0" })).toThrow(
      /^ConfigReloadJob dev\/reload is invalid:\n {2}- user "0:0" is root: run as the image's unprivileged user, or say why not in rootReason$/,
    );
    expect(() => build({ user: "root", rootReason: "  " })).toThrow(/user "root" is root/);
    // A reason for a user that is not root would record a suppression nothing needs.
    expect(() => build({ rootReason: "the image has no other user" })).toThrow(
      /rootReason is set but user "65534" is not root: drop rootReason/,
    );
  });

  it.each(["", "   "])("refuses an empty `applies` (%j), naming the prop", (applies) => {
    expect(() => build({ applies })).toThrow(/^ConfigReloadJob dev\/reload is invalid:\n {2}- applies is empty: say what one run does/);
  });
});
