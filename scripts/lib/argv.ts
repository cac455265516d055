/** Command-line flags as the scripts take them: `--flag value`, `--flag=value` and bare switches. */

/**
 * Calls `onFlag` for each argument in order, with the flag (the part before `=` of a `--flag=value`)
 * and a `value()` that returns the inline value or takes the next argument. A missing or empty value,
 * or a next argument that is itself a flag, throws `fail("<flag> needs a value")`.
 */
export function forEachFlag(
  argv: readonly string[],
  onFlag: (flag: string, value: () => string, arg: string) => void,
  fail: (message: string) => Error,
): void {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf("=");
    const flag = arg.startsWith("--") && eq > 0 ? arg.slice(0, eq) : arg;
    const inline = arg.startsWith("--") && eq > 0 ? arg.slice(eq + 1) : undefined;
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === "" || (inline === undefined && v.startsWith("--"))) throw fail(`${flag} needs a value`);
      return v;
    };
    onFlag(flag, value, arg);
  }
}

/** The keys of T whose option may hold a V. */
type OptionKey<T, V> = { [K in keyof T]-?: V extends T[K] ? K : never }[keyof T];

export interface FlagTables<T> {
  /** Flags that take a value, and the string option each stores it in. */
  readonly values: Readonly<Record<string, OptionKey<T, string>>>;
  /** Bare flags, and the boolean option each sets to true. */
  readonly switches: Readonly<Record<string, OptionKey<T, true>>>;
  /** Any other flag: the flags that need their own handling, and the error for an unknown one. */
  readonly other: (flag: string, value: () => string, arg: string) => void;
}

/** A forEachFlag handler that fills `opts` from tables of flags. */
export function setOptions<T extends object>(opts: T, tables: FlagTables<T>): (flag: string, value: () => string, arg: string) => void {
  // Object.hasOwn: a flag such as "constructor" must not find an inherited property.
  return (flag, value, arg) => {
    if (Object.hasOwn(tables.values, flag)) {
      const key = tables.values[flag]!;
      opts[key] = value() as T[typeof key];
    } else if (Object.hasOwn(tables.switches, flag)) {
      const key = tables.switches[flag]!;
      opts[key] = true as T[typeof key];
    } else tables.other(flag, value, arg);
  };
}

/**
 * forEachFlag for a script's entry point: -h/--help prints `usage` and exits 0; a flag's error, or
 * anything `onFlag` throws (an unknown option, a bad value), prints the message and `usage` and
 * exits 2, before the script does anything.
 */
export function parseFlagsOrExit(
  argv: readonly string[],
  usage: string,
  onFlag: (flag: string, value: () => string, arg: string) => void,
): void {
  try {
    forEachFlag(
      argv,
      (flag, value, arg) => {
        if (arg === "-h" || arg === "--help") {
          process.stdout.write(`${usage}\n`);
          process.exit(0);
        }
        onFlag(flag, value, arg);
      },
      (message) => new Error(message),
    );
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${usage}\n`);
    process.exit(2);
  }
}
