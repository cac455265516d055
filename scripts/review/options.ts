/** Command-line options of `npm run review` (pure parsing; the CLI decides what to do with errors). */

export const USAGE = `usage: npm run review -- [options]

Synthesizes the app once (in-process, as cdktf synth would), writes a Markdown report per stack
(services, seeds, networks, ports, volumes, backups, policy suppressions, topology) and prints it.

  --out <dir>            where the reports (<stack>.md, <stack>.svg) go (default: cdktf.out/review)
  --from <dir>           review this synth output (a cdktf.out folder) instead of synthesizing
  --against <dir>        compare with an earlier synth output (a cdktf.out folder)
  --against-git <ref>    synthesize commit <ref> in a temporary git worktree and compare with it
  --stack <name>         only this stack (repeat for more)
  --quiet                print only the one-line summaries, not the reports
  -h, --help             this text

Exit code: 0 fine, 2 a change section contains data loss, 1 error.`;

export interface Options {
  readonly out?: string;
  readonly from?: string;
  readonly against?: string;
  readonly againstGit?: string;
  readonly stacks: readonly string[];
  readonly quiet: boolean;
  readonly help: boolean;
}

export class UsageError extends Error {}

export function parseOptions(argv: readonly string[]): Options {
  const opts: { -readonly [K in keyof Options]: Options[K] } = { stacks: [], quiet: false, help: false };
  const stacks: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf("=");
    const flag = arg.startsWith("--") && eq > 0 ? arg.slice(0, eq) : arg;
    const inline = arg.startsWith("--") && eq > 0 ? arg.slice(eq + 1) : undefined;
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === "" || (inline === undefined && v.startsWith("--"))) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case "--out":
        opts.out = value();
        break;
      case "--from":
        opts.from = value();
        break;
      case "--against":
        opts.against = value();
        break;
      case "--against-git":
        opts.againstGit = value();
        break;
      case "--stack":
        stacks.push(value());
        break;
      case "--quiet":
        opts.quiet = true;
        break;
      case "-h":
      case "--help":
        opts.help = true;
        break;
      default:
        throw new UsageError(`unknown option ${arg}`);
    }
  }
  if (opts.against !== undefined && opts.againstGit !== undefined) throw new UsageError("--against and --against-git exclude each other: pick one");
  return { ...opts, stacks };
}
