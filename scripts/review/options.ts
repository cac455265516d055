/** Command-line options of `npm run review` (pure parsing; the CLI decides what to do with errors). */
import { forEachFlag, setOptions } from "../lib/argv";

export const USAGE = `usage: npm run review -- [options]

Synthesizes the app once (in-process, as cdktf synth would), writes a Markdown report per stack
(services, seeds, networks, ports, volumes, backups, policy suppressions, topology) and prints it.

  --out <dir>            where the reports (<stack>.md, <stack>.svg) go (default: cdktf.out/review)
  --from <dir>           review this synth output (a cdktf.out folder) instead of synthesizing
  --against <dir>        compare with an earlier synth output (a cdktf.out folder); also writes
                         pull-request-comment.md: every stack's verdict and risks, then the change
                         lists while they fit in a GitHub comment (at most 60,000 characters)
  --against-git <ref>    synthesize commit <ref> in a temporary git worktree and compare with it
  --stack <name>         only this stack (repeat for more)
  --stages-json <file>   with --against/--against-git: write, per stack, whether it must be applied in
                         stages and the -target addresses of each stage (read by npm run apply:staged)
  --quiet                print only the one-line summaries, not the reports
  -h, --help             this text

Exit code: 0 fine, 2 a change section contains data loss, 3 a change stops services (downtime),
4 staged apply required (a store's primary and replica, or most of its Sentinels or cluster nodes,
would be replaced in one apply; data loss still wins with 2), 1 error.`;

export interface Options {
  readonly out?: string;
  readonly from?: string;
  readonly against?: string;
  readonly againstGit?: string;
  readonly stacks: readonly string[];
  readonly stagesJson?: string;
  readonly quiet: boolean;
  readonly help: boolean;
}

export class UsageError extends Error {}

export function parseOptions(argv: readonly string[]): Options {
  const opts: { -readonly [K in keyof Options]: Options[K] } = { stacks: [], quiet: false, help: false };
  const stacks: string[] = [];
  forEachFlag(
    argv,
    setOptions(opts, {
      values: { "--out": "out", "--from": "from", "--against": "against", "--against-git": "againstGit", "--stages-json": "stagesJson" },
      switches: { "--quiet": "quiet", "-h": "help", "--help": "help" },
      other: (flag, value, arg) => {
        if (flag !== "--stack") throw new UsageError(`unknown option ${arg}`);
        stacks.push(value());
      },
    }),
    (message) => new UsageError(message),
  );
  if (opts.against !== undefined && opts.againstGit !== undefined)
    throw new UsageError("--against and --against-git exclude each other: pick one");
  if (opts.stagesJson !== undefined && opts.against === undefined && opts.againstGit === undefined) {
    throw new UsageError("--stages-json needs --against <dir> or --against-git <ref>: stages come from a comparison");
  }
  return { ...opts, stacks };
}
