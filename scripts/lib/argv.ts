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
