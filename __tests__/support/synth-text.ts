import type { TerraformStack } from "cdktf";
import { invokeAspects } from "cdktf/lib/synthesize/synthesizer";

/**
 * What cdktf's `Testing.synth(stack)` returns, byte for byte, at a fraction of its cost: the
 * aspects invoked, the stack rendered, every `"//"` key (cdktf's metadata) dropped at any depth, keys
 * sorted by UTF-16 code unit, laid out as json-stable-stringify lays out `{ space: 2 }` (an empty
 * object or array spans two lines, unlike JSON.stringify).
 *
 * Why: Testing.synth copies each object by spreading it once per key (quadratic in its keys), and
 * json-stable-stringify then joins each level's text into its parent's, so a deep value is copied
 * once per level; this appends to one list and joins it once. In the unit tier's profile the two
 * took about 1.5 s of 13 s of tests. Runs no validations (nor does `Testing.synth(stack)` without
 * its second argument).
 * synth-text.test.ts compares the two on a stack made of the awkward cases, and
 * synth-text.integration.test.ts on every environment.
 */
export function synthText(stack: TerraformStack): string {
  invokeAspects(stack);
  const parts: string[] = [];
  write(stack.toTerraform(), "\n", parts);
  return parts.join("");
}

const SPACE = "  ";

/** Appends `value`'s text at the indent `indent` ("\n" plus two spaces per level); false when it has none (undefined, a function). */
function write(value: unknown, indent: string, parts: string[]): boolean {
  if (value === null || typeof value !== "object") {
    const text = JSON.stringify(value) as string | undefined;
    if (text === undefined) return false;
    parts.push(text);
    return true;
  }
  const inner = indent + SPACE;
  if (Array.isArray(value)) {
    parts.push("[");
    for (let i = 0; i < value.length; i++) {
      parts.push(i === 0 ? inner : `,${inner}`);
      if (!write(value[i], inner, parts)) parts.push("null");
    }
    parts.push(indent, "]");
    return true;
  }
  parts.push("{");
  let first = true;
  const record = value as Record<string, unknown>;
  // The sorted keys in that order: an object rebuilt from them would list integer-like keys first.
  for (const key of Object.keys(record).sort()) {
    if (key === "//") continue;
    const member = record[key];
    if (member === undefined || typeof member === "function" || typeof member === "symbol") continue;
    parts.push(first ? inner : `,${inner}`, JSON.stringify(key), ": ");
    first = false;
    write(member, inner, parts);
  }
  parts.push(indent, "}");
  return true;
}
