import { existsSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { App, Testing } from "cdktf";
import { describe, expect, it } from "vitest";
import { scratchDir, testTempRoot } from "./support/temp-dirs";

const inside = (dir: string, root: string) => {
  const rel = relative(root, dir);
  return rel !== "" && !rel.startsWith(`..${sep}`) && rel !== "..";
};

describe("the tests' scratch directories", () => {
  it("Testing.app() without an outdir makes it under the run's scratch root", () => {
    const app = Testing.app();
    expect(inside(app.outdir, testTempRoot())).toBe(true);
    expect(existsSync(join(app.outdir, "stacks"))).toBe(true);
  });

  it("an outdir the test chose is kept", () => {
    const mine = scratchDir("mine-");
    expect(Testing.app({ outdir: mine }).outdir).toBe(mine);
  });

  it("the other Testing.app options still apply", () => {
    const app: App = Testing.app({ context: { probe: "x" } });
    expect(app.node.tryGetContext("probe")).toBe("x");
    expect(app.node.tryGetContext("cdktfVersion")).toBe("stubbed");
  });
});
