import {
  getToHaveDataSourceWithProperties,
  getToHaveProviderWithProperties,
  getToHaveResourceWithProperties,
  toBeValidTerraform,
  type AssertionReturn,
  type TerraformConstructor,
} from "cdktf/lib/testing/matchers";
import { Testing } from "cdktf";
import { createRequire } from "node:module";
import { expect } from "vitest";
import { scratchDir } from "./support/temp-dirs";

/**
 * cdktf records a full creation stack trace (Error.stackTraceLimit = MAX_SAFE_INTEGER) for every token
 * it makes (Intrinsic, Lazy, ComplexList, references: thousands per environment stack), and under
 * vitest each trace is formatted through the source-map interceptor: about three quarters of the time
 * spent building a stack. The trace only decorates error messages ("Object creation stack: ..."), never
 * the synthesized JSON, so the tests skip it. The module is CommonJS and cdktf calls it through its
 * exports object, so replacing the export reaches every caller.
 */
const stackTrace = createRequire(__filename)("cdktf/lib/tokens/private/stack-trace") as { captureStackTrace: () => string[] };
stackTrace.captureStackTrace = () => [];

/**
 * Testing.app() without an outdir makes one in the system temp dir and leaves it there: one per app,
 * thousands per run. Here it goes under the run's scratch root, which the global setup removes.
 */
const cdktfTestingApp = Testing.app.bind(Testing);
Testing.app = (options = {}) => cdktfTestingApp(options.outdir ? options : { ...options, outdir: scratchDir("cdktf.outdir.") });

/**
 * cdktf 0.21 ships its matchers for Jest only (docs/architecture.md); this wires the same assertion functions
 * into vitest. Partial matching uses vitest's own asymmetric matchers, as the Jest adapter does.
 * Property keys are snake_case, as in the synthesized JSON.
 */
function passEvaluation(items: unknown[], asserted: Record<string, unknown>): boolean {
  if (Object.keys(asserted).length === 0) return items.length > 0;
  return expect.arrayContaining([expect.objectContaining(asserted)]).asymmetricMatch(items);
}

function toVitest(result: AssertionReturn) {
  return { pass: result.pass, message: () => result.message };
}

expect.extend({
  toHaveResource(received: string, type: TerraformConstructor) {
    return toVitest(getToHaveResourceWithProperties(passEvaluation)(received, type, {}));
  },
  toHaveResourceWithProperties(received: string, type: TerraformConstructor, properties: Record<string, unknown>) {
    return toVitest(getToHaveResourceWithProperties(passEvaluation)(received, type, properties));
  },
  toHaveDataSource(received: string, type: TerraformConstructor) {
    return toVitest(getToHaveDataSourceWithProperties(passEvaluation)(received, type, {}));
  },
  toHaveDataSourceWithProperties(received: string, type: TerraformConstructor, properties: Record<string, unknown>) {
    return toVitest(getToHaveDataSourceWithProperties(passEvaluation)(received, type, properties));
  },
  toHaveProvider(received: string, type: TerraformConstructor) {
    return toVitest(getToHaveProviderWithProperties(passEvaluation)(received, type, {}));
  },
  toHaveProviderWithProperties(received: string, type: TerraformConstructor, properties: Record<string, unknown>) {
    return toVitest(getToHaveProviderWithProperties(passEvaluation)(received, type, properties));
  },
  toBeValidTerraform(received: string) {
    return toVitest(toBeValidTerraform(received));
  },
});

interface CdktfMatchers<R = unknown> {
  toHaveResource(type: TerraformConstructor): R;
  toHaveResourceWithProperties(type: TerraformConstructor, properties: Record<string, unknown>): R;
  toHaveDataSource(type: TerraformConstructor): R;
  toHaveDataSourceWithProperties(type: TerraformConstructor, properties: Record<string, unknown>): R;
  toHaveProvider(type: TerraformConstructor): R;
  toHaveProviderWithProperties(type: TerraformConstructor, properties: Record<string, unknown>): R;
  /** Runs `terraform validate`: needs providers, so only where they can be installed. */
  toBeValidTerraform(): R;
}

declare module "vitest" {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface Assertion<T = any> extends CdktfMatchers<T> {}
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface AsymmetricMatchersContaining extends CdktfMatchers {}
}
