import { describe, expect, it } from "vitest";
import { forEachFlag, setOptions } from "../../scripts/lib/argv";

interface Opts {
  out?: string;
  quiet?: boolean;
}

/** Parses argv with one value flag, one switch, and `other` recording what the tables did not take. */
function parse(argv: readonly string[]): { opts: Opts; other: string[] } {
  const opts: Opts = {};
  const other: string[] = [];
  forEachFlag(
    argv,
    setOptions(opts, { values: { "--out": "out" }, switches: { "--quiet": "quiet" }, other: (_flag, _value, arg) => other.push(arg) }),
    (message) => new Error(message),
  );
  return { opts, other };
}

describe("setOptions", () => {
  it("stores a value flag's value (separate or inline) and sets a switch", () => {
    expect(parse(["--out", "a", "--quiet"])).toEqual({ opts: { out: "a", quiet: true }, other: [] });
    expect(parse(["--out=b"]).opts).toEqual({ out: "b" });
  });

  it("hands every other flag to `other`, in order", () => {
    expect(parse(["--outt", "x", "--quiet"]).other).toEqual(["--outt", "x"]);
  });

  // A table is a plain object: an inherited name must not be taken for a flag (nor written through).
  it.each(["constructor", "__proto__", "toString", "hasOwnProperty"])("does not take the inherited name %s for a flag", (name) => {
    const { opts, other } = parse([name, `--${name}`]);
    expect(other).toEqual([name, `--${name}`]);
    expect(Object.keys(opts)).toEqual([]);
    expect(Object.getPrototypeOf(opts)).toBe(Object.prototype);
  });

  it("still refuses a value flag without its value", () => {
    expect(() => parse(["--out"])).toThrow("--out needs a value");
  });
});
