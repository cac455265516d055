/**
 * The pull-request comment (pull-request-comment.md): every stack's verdict and risks survive a
 * change list too long for GitHub's 65,536 characters, and what is cut goes in whole sections
 * (no half table, no open code block) with a note that says what was left out.
 */
import { describe, expect, it } from "vitest";
import { diffStacks, type StackDiff } from "../../scripts/review/classify";
import { COMMENT_BUDGET, renderComment } from "../../scripts/review/comment";
import { baseStack, containers, volumes } from "./fixtures";

/** dev: `added` new containers, each a row of the change list; nothing lost. */
function devWithAdded(added: number): StackDiff {
  const after = baseStack();
  const db = containers(after).db!;
  for (let i = 0; i < added; i++) containers(after)[`worker${i}`] = { ...db, name: `t-worker-${i}`, volumes: [] };
  return diffStacks("dev", baseStack(), after);
}

/** prod: its data volume removed. */
function prodDataLoss(): StackDiff {
  const after = baseStack();
  delete volumes(after).data;
  containers(after).db!.volumes = [];
  return diffStacks("prod", baseStack(), after);
}

/** Every table row whole, every code fence closed. */
function expectWellFormed(comment: string): void {
  for (const line of comment.split("\n").filter((l) => l.startsWith("|"))) expect(line.endsWith("|"), line).toBe(true);
  expect((comment.match(/^```/gm) ?? []).length % 2).toBe(0);
}

describe("renderComment", () => {
  it("a small change: the verdict table, each stack's risks and change list, nothing left out", () => {
    const comment = renderComment([{ diff: devWithAdded(2) }, { diff: prodDataLoss() }], "git `main`");
    expect(comment).toMatch(/^# Infrastructure review against git `main`\n/);
    expect(comment).toContain("| dev | safe | 2 added, 0 removed, 0 changed");
    expect(comment).toContain("| prod | DATA LOSS | 0 added, 1 removed");
    expect(comment).toContain("**DATA LOSS**: t-db-data");
    expect(comment).toContain("## dev: what changes");
    expect(comment).toContain("t-worker-1");
    expect(comment).not.toContain("Left out");
    expectWellFormed(comment);
  });

  it("a change list longer than a comment: under the budget, prod's data loss kept, dev's list left out and said so", () => {
    const dev = devWithAdded(1500);
    const full = renderComment([{ diff: dev }, { diff: prodDataLoss() }], "git `main`", Number.MAX_SAFE_INTEGER);
    expect(full.length).toBeGreaterThan(COMMENT_BUDGET); // the case is real: everything would not fit
    const comment = renderComment([{ diff: dev }, { diff: prodDataLoss() }], "git `main`");
    expect(comment.length).toBeLessThanOrEqual(COMMENT_BUDGET);
    expect(comment).toContain("| prod | DATA LOSS |");
    expect(comment).toContain("**DATA LOSS**: t-db-data");
    expect(comment).not.toContain("t-worker-");
    expect(comment).toContain("## prod: what changes"); // prod's short list still fits after dev's was left out
    expect(comment).toMatch(/_Left out to stay under GitHub's comment limit: the change list of dev\. The review artifact/);
    expectWellFormed(comment);
  });

  it("at any budget: within it, well formed, the verdict table kept, and the worst stack's risks before a safe one's", () => {
    const stacks = [{ diff: devWithAdded(2) }, { diff: prodDataLoss() }];
    const shows = (comment: string, stack: string) => comment.includes(`## ${stack}\n\n### Risks`);
    const least = renderComment(stacks, "git `main`", 0).length; // the table and the note alone
    let prodOnly = 0;
    for (let budget = 500; budget <= 4000; budget += 25) {
      const comment = renderComment(stacks, "git `main`", budget);
      expect(comment.length, `budget ${budget}`).toBeLessThanOrEqual(Math.max(budget, least));
      expect(comment).toContain("| prod | DATA LOSS |");
      expectWellFormed(comment);
      if (shows(comment, "dev")) expect(shows(comment, "prod"), `budget ${budget}`).toBe(true);
      if (shows(comment, "prod") && !shows(comment, "dev")) {
        prodOnly++;
        expect(comment).toContain("_Left out to stay under GitHub's comment limit: the risks of dev");
      }
    }
    expect(prodOnly).toBeGreaterThan(0); // some budget fits prod's risks and not dev's: the order mattered
    // With room for nothing but the table, every section is named as left out, worst first.
    expect(renderComment(stacks, "git `main`", 600)).toContain(
      "Left out to stay under GitHub's comment limit: the risks of prod, the risks of dev, the change list of dev, the change list of prod.",
    );
  });
});
