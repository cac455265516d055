/**
 * main.ts installs environments/fast-resolve.ts (through prepareSynthProcess) in front of cdktf's
 * resolve. Every environment, in its default and in its widest configuration, must render to the
 * same text with it as without it. Installing changes cdktf's module for the whole process, so this
 * runs in the integration tier (one process per file); the value-level cases are in fast-resolve.test.ts.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { installFastResolve } from "../../environments/fast-resolve";
import { RENDER_CASES as CASES, synthEnvironment } from "../support/stacks";

const OUT = mkdtempSync(join(tmpdir(), "fast-resolve-test-"));
afterAll(() => rmSync(OUT, { recursive: true, force: true }));

const resolveModule = require("cdktf/lib/tokens/private/resolve") as { resolve: unknown };

describe("the fast resolve path", () => {
  it("renders every environment to the same text as cdktf's resolve alone", () => {
    const cdktfResolve = resolveModule.resolve;
    const before = CASES.map(([name, env]) => synthEnvironment(name, env, OUT).text);
    installFastResolve();
    expect(resolveModule.resolve, "installFastResolve did not replace cdktf's resolve").not.toBe(cdktfResolve);
    CASES.forEach(([name, env], i) => {
      const after = synthEnvironment(name, env, OUT).text;
      expect(after.length).toBeGreaterThan(10_000);
      expect(after === before[i], `${name} ${JSON.stringify(env)} renders differently on the fast path`).toBe(true);
    });
  });

  it("installs once: a second call does not wrap the first", () => {
    installFastResolve();
    const first = resolveModule.resolve;
    installFastResolve();
    expect(resolveModule.resolve).toBe(first);
  });
});
