/**
 * The pull-request comment of a compared review: every stack's verdict and risks first (data loss,
 * downtime, a staged apply with its commands), then the change lists while they fit. GitHub refuses
 * a comment over 65,536 characters, and one stack's full report can be longer than that, so the
 * comment is cut at whole sections, never inside a table or a code block, and says what it left
 * out; the full reports are the review artifact. Pure: text in, text out.
 */
import type { StackDiff } from "./classify";
import { changesSection, risksSection, summaryCounts, verdictOf } from "./markdown";
import { mdText as md } from "./safe-text";
import { needsStagedApply } from "./staging";

/** Below GitHub's 65,536 characters, with room for the note on what was cut. */
export const COMMENT_BUDGET = 60_000;

export interface CommentStack {
  readonly diff: StackDiff;
  /** The stack's planDigest in the stages file, shown with a staged apply. */
  readonly planDigest?: string;
}

/** Lines as one block of text; a block is kept or left out whole. */
const block = (lines: readonly string[]) => `${lines.join("\n").trimEnd()}\n`;

/**
 * `against` is the comparison's label ("git `origin/main` (1a2b3c4d5e6f)"). `budget` counts UTF-16
 * code units, never fewer than the characters GitHub counts.
 */
export function renderComment(stacks: readonly CommentStack[], against: string, budget = COMMENT_BUDGET): string {
  const head = block([
    `# Infrastructure review against ${against}`,
    "",
    "| Stack | Verdict | Changes |",
    "|---|---|---|",
    ...stacks.map(({ diff }) => `| ${md(diff.stack)} | ${verdictOf(diff)} | ${summaryCounts(diff)} |`),
  ]);
  const parts: Part[] = [
    ...stacks.map(({ diff, planDigest }, i) => ({
      text: block(["", `## ${md(diff.stack)}`, "", ...risksSection(diff, planDigest)]),
      what: `the risks of ${md(diff.stack)}`,
      rank: severity(diff),
      order: i,
    })),
    ...stacks.map(({ diff }, i) => ({
      text:
        diff.added.length + diff.removed.length + diff.changed.length === 0
          ? ""
          : block(["", `## ${md(diff.stack)}: what changes`, "", ...changesSection(diff, against).slice(2)]),
      what: `the change list of ${md(diff.stack)}`,
      rank: CHANGE_LIST_RANK,
      order: stacks.length + i,
    })),
  ].filter((p) => p.text !== "");
  // Chosen worst first (a reader must see prod's data loss even when dev's change list alone would
  // fill the comment), then shown in stack order, risks before change lists.
  const kept = new Set<Part>();
  const left: string[] = [];
  // Room for the closing note, which names at most every part.
  const note = 200 + parts.reduce((n, p) => n + p.what.length + 2, 0);
  let used = head.length + note;
  let riskLeftOut = false;
  for (const p of [...parts].sort((a, b) => a.rank - b.rank || a.order - b.order)) {
    // Once a stack's risks are left out, no milder stack's risks take their place.
    const isRisk = p.rank < CHANGE_LIST_RANK;
    if (used + p.text.length > budget || (isRisk && riskLeftOut)) {
      left.push(p.what);
      riskLeftOut ||= isRisk;
    } else {
      kept.add(p);
      used += p.text.length;
    }
  }
  const shown = parts.filter((p) => kept.has(p)).map((p) => p.text);
  if (left.length > 0)
    shown.push(
      block([
        "",
        `_Left out to stay under GitHub's comment limit: ${left.join(", ")}. The review artifact has every stack's full report._`,
      ]),
    );
  return head + shown.join("");
}

interface Part {
  readonly text: string;
  readonly what: string;
  readonly rank: number;
  readonly order: number;
}

const CHANGE_LIST_RANK = 5;

/** 0 data loss, 1 staged apply, 2 downtime, 3 warnings, 4 nothing to report. */
function severity(diff: StackDiff): number {
  if (diff.dataLoss.length > 0) return 0;
  if (needsStagedApply(diff.staged)) return 1;
  if (diff.downtime.length > 0) return 2;
  return diff.warnings.length > 0 ? 3 : 4;
}
