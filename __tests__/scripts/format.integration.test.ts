/**
 * The code is formatted by Prettier (pinned in package.json, settings in .prettierrc.json, files
 * chosen by .prettierignore: TypeScript only). `npm run format` fixes what this test reports.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as prettier from "prettier";
import { describe, expect, it } from "vitest";

const ROOT = join(__dirname, "..", "..");

/** Every tracked or new file Prettier would format, as `prettier --check .` picks them. */
async function formattedFiles(): Promise<string[]> {
  const listed = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "*.ts"], {
    cwd: ROOT,
    encoding: "utf8",
  });
  const files: string[] = [];
  for (const file of listed.split("\n").filter(Boolean)) {
    const info = await prettier.getFileInfo(join(ROOT, file), { ignorePath: join(ROOT, ".prettierignore") });
    if (!info.ignored && info.inferredParser) files.push(file);
  }
  return files;
}

describe("formatting", () => {
  it("every TypeScript file is formatted with the project's Prettier settings", async () => {
    const files = await formattedFiles();
    expect(files.length).toBeGreaterThan(100);
    const unformatted: string[] = [];
    for (const file of files) {
      const path = join(ROOT, file);
      const options = await prettier.resolveConfig(path);
      expect(options, `${file}: .prettierrc.json is found`).toMatchObject({ printWidth: 140 });
      if (!(await prettier.check(readFileSync(path, "utf8"), { ...options, filepath: path }))) unformatted.push(file);
    }
    expect(unformatted, "run `npm run format`").toEqual([]);
  }, 120_000);

  it("the check refuses code that is not formatted (it can fail)", async () => {
    const path = join(ROOT, "constructs", "contract.ts");
    const options = await prettier.resolveConfig(path);
    expect(await prettier.check("export const  x = {a:1,\n b : 2}\n", { ...options, filepath: path })).toBe(false);
    expect(await prettier.check("export const x = { a: 1, b: 2 };\n", { ...options, filepath: path })).toBe(true);
  });
});
