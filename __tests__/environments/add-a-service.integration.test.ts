/**
 * The runbook's status page, added as one entry in `services`, on the real Docker engine: the
 * engine accepts its container as synthesized and shows every setting applied (the same check the
 * engine tests run on every container of the stack).
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeIf } from "../support/binaries";
import { synthWithStatusPage } from "../support/status-page";
import type { StackJson } from "../engine/docker-cli";
import {
  dockerDaemonRequirement,
  EngineSession,
  ensureTestImage,
  inspectMismatches,
  removeByPrefix,
  runPrefix,
  staticBusyboxRequirement,
} from "../engine/fixtures";

const busybox = staticBusyboxRequirement();

describeIf([dockerDaemonRequirement(), busybox], "the status page on the Docker engine", () => {
  const prefix = `${runPrefix()}sp-`;
  let session: EngineSession;

  beforeAll(async () => {
    const image = await ensureTestImage(busybox.path!);
    session = new EngineSession(synthWithStatusPage("dev").json as unknown as StackJson, prefix, image);
  }, 120_000);
  afterAll(async () => {
    await session?.cleanup();
    await removeByPrefix(prefix);
  }, 120_000);

  it("dev: docker create accepts the status page's container and inspect shows each setting applied", async () => {
    const plan = session.plan("dev-status-page");
    await session.prepare([plan]);
    await session.create(plan);
    const [inspected] = await session.inspect([plan.name]);
    const mismatches = inspectMismatches(plan, inspected!);
    expect(mismatches.applied).toEqual([]);
    expect(mismatches.readBack).toEqual([]);
    expect(inspected!.Config.User).toBe("1000:1000");
    expect(inspected!.HostConfig.ReadonlyRootfs).toBe(true);
    expect(inspected!.HostConfig.Memory).toBe(128 * 1024 * 1024);
  }, 120_000);
});
