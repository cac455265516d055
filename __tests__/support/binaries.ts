// Project rule: a test that needs something missing locally is skipped with the reason printed;
// under CI=true (where .ci/run installs everything) the same gap is a failure, never a silent skip.
import { describe, it } from "vitest";
import { which } from "../../scripts/lib/process";

/** Whether a prerequisite is met, and a sentence saying why (shown when a test is skipped or fails). */
export interface Requirement {
  readonly available: boolean;
  readonly reason: string;
}

export interface BinaryRequirement extends Requirement {
  /** Absolute path of the executable, when found. */
  readonly path?: string;
}

export function isCI(): boolean {
  return process.env.CI === "true";
}

const found = new Map<string, BinaryRequirement>();

/** Looks `name` up on PATH (no shell involved); the answer is cached per name. */
export function requireBinary(name: string): BinaryRequirement {
  const cached = found.get(name);
  if (cached !== undefined) return cached;
  const result = lookUp(name);
  found.set(name, result);
  return result;
}

function lookUp(name: string): BinaryRequirement {
  if (name.length === 0 || name.includes("/")) {
    return { available: false, reason: `requireBinary wants a bare command name, got ${JSON.stringify(name)}` };
  }
  const path = which(name);
  if (path !== undefined) return { available: true, reason: `${name} found at ${path}`, path };
  return {
    available: false,
    reason: `\`${name}\` is not installed (not found on PATH); install it to run these tests (CI installs it through .ci/run)`,
  };
}

/** All of the requirements at once; the reason lists every missing one. */
export function allOf(requirements: Requirement | readonly Requirement[]): Requirement {
  const list: readonly Requirement[] = isRequirementList(requirements) ? requirements : [requirements];
  const missing = list.filter((r) => !r.available);
  if (missing.length === 0) return { available: true, reason: list.map((r) => r.reason).join("; ") };
  return { available: false, reason: missing.map((r) => r.reason).join("; ") };
}

function isRequirementList(value: Requirement | readonly Requirement[]): value is readonly Requirement[] {
  return Array.isArray(value);
}

type Body = () => void | Promise<void>;

/**
 * `describe` that runs only when the requirements are met. Otherwise: skipped with the reason (locally),
 * or one failing test carrying the reason (CI=true). The factory is not even called when skipping, so it
 * may do setup work at collection time.
 */
export function describeIf(requirements: Requirement | readonly Requirement[], name: string, factory: () => void): void {
  const requirement = allOf(requirements);
  if (requirement.available) {
    describe(name, factory);
    return;
  }
  describe(name, () => {
    registerMissing(name, requirement.reason);
  });
}

/** `it` that runs only when the requirements are met (same skip/fail rule as describeIf). */
export function itIf(requirements: Requirement | readonly Requirement[], name: string, body: Body, timeout?: number): void {
  const requirement = allOf(requirements);
  if (requirement.available) {
    it(name, body, timeout);
    return;
  }
  registerMissing(name, requirement.reason);
}

export function describeIfBinary(binaries: string | readonly string[], name: string, factory: () => void): void {
  describeIf(binaryRequirements(binaries), name, factory);
}

export function itIfBinary(binaries: string | readonly string[], name: string, body: Body, timeout?: number): void {
  itIf(binaryRequirements(binaries), name, body, timeout);
}

function binaryRequirements(binaries: string | readonly string[]): Requirement[] {
  return (typeof binaries === "string" ? [binaries] : [...binaries]).map(requireBinary);
}

function registerMissing(name: string, reason: string): void {
  if (isCI()) {
    it(`${name} (requirement missing)`, () => {
      throw new Error(`${reason}. CI=true: missing requirements fail instead of being skipped.`);
    });
    return;
  }
  console.warn(`[skipped] ${name}: ${reason}`);
  it.skip(`${name} (skipped: ${reason})`, () => {});
}
