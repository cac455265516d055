/**
 * Step results for scripts/test-terraform.ts and scripts/e2e.ts. A skipped step is reported as
 * SKIPPED with its reason and never counts as passed: the verdict is PASSED only when every step
 * ran and passed, FAILED when any failed, SKIPPED otherwise.
 */
export type Status = "passed" | "failed" | "skipped";

export interface StepResult {
  readonly scope: string;
  readonly step: string;
  readonly status: Status;
  readonly detail: string;
}

const LABEL: Record<Status, string> = { passed: "passed ", failed: "FAILED ", skipped: "SKIPPED" };

export class Report {
  readonly steps: StepResult[] = [];

  constructor(private readonly title: string) {}

  passed(scope: string, step: string, detail = ""): void {
    this.add({ scope, step, status: "passed", detail });
  }

  failed(scope: string, step: string, detail: string): void {
    this.add({ scope, step, status: "failed", detail });
  }

  skipped(scope: string, step: string, detail: string): void {
    this.add({ scope, step, status: "skipped", detail });
  }

  private add(result: StepResult): void {
    this.steps.push(result);
    const lines = result.detail.split("\n");
    process.stdout.write(`${LABEL[result.status]}  ${result.scope}: ${result.step}${lines[0] ? ` — ${lines[0]}` : ""}\n`);
    for (const line of lines.slice(1)) process.stdout.write(`           ${line}\n`);
  }

  get verdict(): Status {
    if (this.steps.some((s) => s.status === "failed")) return "failed";
    if (this.steps.length === 0 || this.steps.some((s) => s.status === "skipped")) return "skipped";
    return "passed";
  }

  /** Prints the summary table and the verdict line; returns the exit code (1 only on a failure). */
  finish(): number {
    const width = Math.max(...this.steps.map((s) => `${s.scope}: ${s.step}`.length), 10);
    process.stdout.write(`\n${this.title} summary\n`);
    for (const s of this.steps) {
      process.stdout.write(
        `  ${LABEL[s.status]}  ${`${s.scope}: ${s.step}`.padEnd(width)}${s.status === "passed" ? "" : `  ${clip(s.detail.split("\n")[0]!, 110)}`}\n`,
      );
    }
    const count = (st: Status) => this.steps.filter((s) => s.status === st).length;
    const tally = `${count("passed")} passed, ${count("failed")} failed, ${count("skipped")} skipped`;
    const verdict = this.verdict;
    if (verdict === "failed") {
      process.stdout.write(`\nRESULT: FAILED (${tally})\n`);
      return 1;
    }
    if (verdict === "skipped") {
      process.stdout.write(`\nRESULT: SKIPPED (${tally}). Skipped steps did not run: this is not a pass.\n`);
      return 0;
    }
    process.stdout.write(`\nRESULT: PASSED (${tally})\n`);
    return 0;
  }
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}
