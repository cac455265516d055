/**
 * Readers for configuration input that may not have parsed: the cross-field rules run even when
 * some fields are invalid, so they read every value defensively.
 */

/** The value as an object, or {} when it is none (null, an array, a string ...). */
// `any`: the rules read fields of unknown input and check each one's type where they use it.
export const obj = (v: unknown): Record<string, any> =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, any>) : {};

/** The value as a list, or [] when it is none. */
export const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
