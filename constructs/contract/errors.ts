import { consoleText } from "./console-text";

/**
 * The one error a construct or renderer throws for props it cannot build (model: aws-cdk-lib's
 * core/lib/errors.ts `ValidationError`): it names what was being built, where in the construct
 * tree, and every problem at once, each naming the prop and the fix. Callers that collect problems
 * (the environment loader, tests) read `problems` instead of parsing the message.
 */
export class ValidationError extends Error {
  override readonly name = "ValidationError";
  /** What was being built: a construct class and its path, or a renderer's input. */
  readonly subject: string;
  readonly problems: readonly string[];

  constructor(subject: string, problems: readonly string[]) {
    // Problems quote the values they refuse: printed, those must not act on the terminal or add lines.
    super(`${consoleText(subject)} is invalid:\n${problems.map((p) => `  - ${consoleText(p)}`).join("\n")}`);
    this.subject = subject;
    this.problems = [...problems];
  }
}

/** Throws one ValidationError for `subject` when any problem was found: the end of every "collect all problems" check. */
export function throwIfProblems(subject: string, problems: readonly string[]): void {
  if (problems.length > 0) throw new ValidationError(subject, problems);
}

/** What an error says, one line a problem: a ValidationError's problems, or any other error's message. */
export function problemsOf(e: unknown): readonly string[] {
  if (e instanceof ValidationError) return e.problems;
  return [e instanceof Error ? e.message : String(e)];
}
