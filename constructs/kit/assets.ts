/**
 * Scripts kept as real files (`constructs/<module>/assets/*.sh`, checked by shellcheck) and filled in
 * at synth. A value goes in through an `@@NAME@@` placeholder; the renderer validates or shell-quotes
 * it first, as before the scripts were files, since this helper only substitutes text.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { throwIfProblems } from "../contract/errors";

/** A placeholder: `@@` + upper-case name + `@@`. */
const PLACEHOLDER = /@@([A-Z][A-Z0-9_]*)@@/g;
/**
 * Lines that are only a shellcheck directive (`# shellcheck disable=...`, `# shellcheck shell=sh`):
 * they are for the linter, and dropping them keeps the uploaded text what it was (a changed script
 * replaces its container on the next apply).
 */
const DIRECTIVE_LINE = /^[ \t]*# shellcheck [^\n]*\n/gm;

export type AssetValues = Readonly<Record<string, string | number>>;

/** The text of `<assetsDir>/<name>`; read it once per module, into a module-level constant. */
export function readAsset(assetsDir: string, name: string): string {
  return readFileSync(join(assetsDir, name), "utf8");
}

/** The placeholder names an asset uses, sorted and without repeats. */
export function assetPlaceholders(asset: string): string[] {
  return [...new Set([...asset.matchAll(PLACEHOLDER)].map((m) => m[1]!))].sort();
}

/**
 * The asset with its shellcheck directive lines removed and every `@@NAME@@` replaced by
 * `values[NAME]`. Throws on a placeholder without a value, a value without a placeholder (a typo
 * on either side) and a stray `@@`. Values are inserted verbatim and never re-scanned.
 */
export function fillAsset(asset: string, values: AssetValues, what: string): string {
  const text = asset.replace(DIRECTIVE_LINE, "");
  const used = assetPlaceholders(text);
  const missing = used.filter((name) => !Object.prototype.hasOwnProperty.call(values, name));
  const unknown = Object.keys(values).filter((name) => !used.includes(name));
  const problems: string[] = [];
  if (missing.length > 0) problems.push(`no value for ${missing.map((n) => `@@${n}@@`).join(", ")}`);
  if (unknown.length > 0) problems.push(`values for placeholders it does not have: ${unknown.join(", ")}`);
  if (text.replace(PLACEHOLDER, "").includes("@@")) problems.push('a stray "@@" that is not a @@NAME@@ placeholder');
  for (const [name, value] of Object.entries(values)) {
    if (typeof value === "number" && !Number.isFinite(value)) problems.push(`${name} is ${value}, not a number`);
  }
  throwIfProblems(`${what} asset`, problems);
  return text.replace(PLACEHOLDER, (_, name: string) => String(values[name]));
}

const SCRIPT_PATH = /^\/[A-Za-z0-9_./-]+$/;

/** Script inputs that are absolute paths of letters, digits and _ . / - (safe unquoted): each problem names its key. */
export function absolutePathProblems<K extends string>(input: Readonly<Record<K, string>>, keys: readonly K[]): string[] {
  return keys
    .filter((k) => !SCRIPT_PATH.test(input[k]))
    .map((k) => `${k}: "${input[k]}" must be an absolute path of letters, digits and _ . / -`);
}

/** A script's wait in whole seconds, 1 to 3600 (an hour is longer than any apply should hang). */
export function waitSecondsProblems(value: number, key = "waitSeconds"): string[] {
  return Number.isInteger(value) && value >= 1 && value <= 3600 ? [] : [`${key}: ${value} must be whole seconds from 1 to 3600`];
}
