/**
 * Every test that synthesizes a stack goes through synthText (support/synth-text.ts) instead of
 * cdktf's Testing.synth. Here both render each environment, in its default and its widest
 * configuration, and must agree to the byte (synth-text.test.ts has the awkward cases).
 */
import { Testing } from "cdktf";
import { describe, expect, it } from "vitest";
import { EnvironmentStack } from "../../environments/environment-stack";
import { loadEnvironmentConfig, type EnvironmentName } from "../../environments/load";
import { synthText } from "../support/synth-text";
import { testOutdir } from "../support/test-stack";

const CASES: [EnvironmentName, Record<string, string>][] = [
  ["dev", {}],
  ["dev", { UPDATEIO_DEV_OBSERVABILITY: "full" }],
  ["test", {}],
  ["prod", {}],
  [
    "prod",
    {
      UPDATEIO_PROD_BACKUP_OFFSITE_ENDPOINT: "https://s3.eu-central-1.amazonaws.com",
      UPDATEIO_PROD_BACKUP_OFFSITE_BUCKET: "updateio-backups",
      UPDATEIO_PROD_BACKUP_OFFSITE_REGION: "eu-central-1",
      UPDATEIO_PROD_ALERT_TELEGRAM_CHAT_ID: "-1001234567890",
      UPDATEIO_PROD_ALERT_DISCORD: "1",
    },
  ],
];

const OUT = testOutdir("synth-text-test");
const build = (name: EnvironmentName, env: Record<string, string>) =>
  new EnvironmentStack(Testing.app({ outdir: OUT }), name, loadEnvironmentConfig(name, env));

describe("synthText", () => {
  it.each(CASES)("renders %s %j to the same text as Testing.synth", (name, env) => {
    const expected = Testing.synth(build(name, env));
    expect(expected.length).toBeGreaterThan(10_000);
    expect(synthText(build(name, env)) === expected, "synthText and Testing.synth differ").toBe(true);
  });
});
