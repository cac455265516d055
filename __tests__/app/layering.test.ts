import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(__dirname, "..", "..");
const CONSTRUCTS = join(ROOT, "constructs");

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : name.endsWith(".ts") ? [path] : [];
  });
}

describe("layering", () => {
  it("no file under constructs/ imports from environments/ (constructs take their own props; the stack maps config to them)", () => {
    const offenders = sources(CONSTRUCTS).flatMap((file) => {
      const text = readFileSync(file, "utf8");
      const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*["']([^"']+)["']/g)].map((m) => m[1]!);
      return specifiers.filter((s) => /(^|\/)environments(\/|$)/.test(s)).map((s) => `${relative(ROOT, file)} imports ${s}`);
    });
    expect(sources(CONSTRUCTS).length).toBeGreaterThan(20);
    expect(offenders).toEqual([]);
  });
});
