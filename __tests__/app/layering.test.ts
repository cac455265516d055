import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
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
      // Resolved, so constructs/contract/environments (the environment names) is not mistaken for environments/.
      const intoEnvironments = (s: string) =>
        s.startsWith(".") && relative(ROOT, resolve(dirname(file), s)).split("/")[0] === "environments";
      return specifiers.filter(intoEnvironments).map((s) => `${relative(ROOT, file)} imports ${s}`);
    });
    expect(sources(CONSTRUCTS).length).toBeGreaterThan(20);
    expect(offenders).toEqual([]);
  });
});
