/**
 * Text from the synthesized JSON (resource and service names, labels, values, file names, the
 * diff's sentences that quote them) is written by whoever wrote the change under review. These
 * functions show it inertly where it leaves the tooling: `mdText` for the Markdown report (a PR
 * comment), `consoleText` for terminal lines, `mermaidText` for labels inside the Mermaid block.
 * Ordinary names (letters, digits, - _ . / : , spaces) pass through unchanged; hidden characters
 * and look-alikes are shown as their code points (`\u{0430}`).
 * Node built-ins and the contract only: the apply script imports this without the review.
 */
import {
  consoleText as hiddenShown,
  HIDDEN_CHARACTERS as HIDDEN,
  visibleCodePoint as visible,
} from "../../constructs/contract/console-text";

/**
 * Look-alikes: a letter, mark or digit outside ASCII (Cyrillic а, Greek ο, fullwidth ａ,
 * Arabic-Indic ٣, a combining accent), or punctuation drawn like a separator of our names
 * (Unicode's confusables of - . _ : /, and the fullwidth forms). "аpi" in a label, a path or an
 * environment value would read as "api" in the review; our stacks hold no character outside
 * ASCII, and our own sentences only the arrows, ×, … and —, which are none of these.
 */
const LOOK_ALIKE =
  /(?![\x00-\x7F])[\p{L}\p{M}\p{N}]|[\u02D7\u2010-\u2013\u2043\u2212\uFE58\uFE63\u00B7\u0701\u0702\u2024\u2027\uA4F8\u0589\u05C3\u2236\uA789\uFE13\uFE55\u1735\u2044\u2215\u2571\u29F8\u3033\u2017\uFF01-\uFF5E]/gu;

/** One line of terminal output: hidden characters and look-alikes as code points. */
export function consoleText(text: string): string {
  return hiddenShown(text).replace(LOOK_ALIKE, visible);
}

/** Several lines (a report, a message): each line through consoleText, our own line breaks kept. */
export function consoleLines(text: string): string {
  return text.split("\n").map(consoleText).join("\n");
}

/** Longer runs without a space push the rest of a table row off screen. */
const MAX_WORD = 240;
/** A PR comment holds 65536 characters: one value must not crowd out the rest of the report. */
const MAX_TEXT = 4000;

function shorten(text: string): string {
  const chars = Array.from(text);
  const cut = chars.length > MAX_TEXT ? `${chars.slice(0, MAX_TEXT).join("")}… (${chars.length - MAX_TEXT} more characters)` : text;
  return cut.replace(/\S+/gu, (word) => {
    const w = Array.from(word);
    return w.length > MAX_WORD ? `${w.slice(0, MAX_WORD).join("")}… (${w.length - MAX_WORD} more characters)` : word;
  });
}

/**
 * Markdown outside code spans: what could open HTML (`<`, an entity), a link or image (`](`,
 * `][`), emphasis or strike-through, math (`$`), an unpaired backtick, a mention (`@name`, put in
 * a code span: GitHub does not notify from code), or escape our own markup (a backslash).
 * `_` only where it could emphasise: inside a word (api_seed) it cannot.
 */
const MD_SPECIAL = /[\\`*~$<]|&(?=#?[A-Za-z0-9]+;)|\](?=[([])|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])|(?<![A-Za-z0-9_])@(?=[A-Za-z0-9])/g;

function mdEscape(text: string): string {
  return text.replace(MD_SPECIAL, (ch) => (ch === "<" ? "&lt;" : ch === "&" ? "&amp;" : ch === "@" ? "`@`" : `\\${ch}`));
}

/**
 * Text for the Markdown report (paragraphs, list items, table cells; `cell` still escapes `|`).
 * Code spans with no backtick or line break inside (`terraform apply -replace=...`) are kept: their
 * content renders literally. Hidden characters become `\u{...}`, very long words and values are
 * cut with a count, so every change stays visible and nothing renders as markup.
 */
export function mdText(text: string): string {
  return shorten(text)
    .split(/(`[^`\r\n]+`)/)
    .map((part, i) => (i % 2 === 1 ? part : mdEscape(part)).replace(HIDDEN, visible).replace(LOOK_ALIKE, visible))
    .join("");
}

/**
 * A label inside a Mermaid block ("..."): Mermaid entity codes for what would end the string or
 * the fence, start Markdown or HTML in the label, or read as an entity; no line breaks.
 */
export function mermaidText(text: string): string {
  const escaped = shorten(text)
    .replace(/[#`<>&\\]/g, (ch) => `#${ch.codePointAt(0)};`)
    .replace(/"/g, "#quot;")
    .replace(HIDDEN, (ch) => visible(ch).replace("\\", "#92;"))
    .replace(LOOK_ALIKE, (ch) => visible(ch).replace("\\", "#92;"));
  return `"${escaped}"`;
}

/** A quoted Graphviz string: hidden characters and look-alikes as code points, then backslashes and quotes escaped. */
export function dotText(text: string): string {
  const shown = text.replace(HIDDEN, visible).replace(LOOK_ALIKE, visible);
  return `"${shown.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** Text inside an HTML-like Graphviz label (<...>): entities for markup, hidden characters and look-alikes as code points. */
export function dotHtmlText(text: string): string {
  return text
    .replace(/[&<>"]/g, (ch) => `&#${ch.codePointAt(0)};`)
    .replace(HIDDEN, visible)
    .replace(LOOK_ALIKE, visible);
}
