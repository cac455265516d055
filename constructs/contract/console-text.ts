/**
 * Text that came from a user (a config value, a CLI argument, a name in the synthesized JSON) shown
 * on a terminal: escape sequences, carriage returns, line breaks and bidi overrides inside it could
 * rewrite or hide what is printed around it, so they are printed as their code points instead.
 * The config check, the synth command and the review tooling all print through these.
 */

/**
 * Characters that act on a terminal or a renderer, or hide or reorder text: C0/C1 controls (ESC,
 * CR, BEL, CSI), format characters (bidi overrides and isolates, zero-width spaces and joiners,
 * soft hyphen, BOM, tag characters), lone surrogates, private use, line and paragraph separators,
 * spaces other than U+0020, and letters that draw as blanks (Hangul fillers, braille blank).
 */
export const HIDDEN_CHARACTERS = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Zl}\p{Zp}\u115F\u1160\u3164\uFFA0\u2800]|(?! )\p{Zs}/gu;

/** `\u{202E}`: the code point, readable and inert in a terminal and in Markdown. */
export function visibleCodePoint(ch: string): string {
  return `\\u{${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}}`;
}

/** One line of terminal output: no escape sequences, no carriage return or line break, no bidi. */
export function consoleText(text: string): string {
  return text.replace(HIDDEN_CHARACTERS, visibleCodePoint);
}

/** Several lines (a report, a message): each line through consoleText, our own line breaks kept. */
export function consoleLines(text: string): string {
  return text.split("\n").map(consoleText).join("\n");
}
