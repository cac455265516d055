import { ValidationError } from "../contract/errors";

/**
 * Go's canonical duration form ("30s", "1m0s", "1h0m0s"), which is how the Docker provider reads
 * healthcheck durations back; writing "1m" would leave a permanent diff in every plan.
 */
export function goDuration(seconds: number): string {
  if (!Number.isInteger(seconds) || seconds < 0) {
    throw new ValidationError("duration input", [`${seconds} is not a whole number of seconds ≥ 0`]);
  }
  if (seconds === 0) return "0s";
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

/** Parses "90s", "1m30s", "2m", "1h" and returns the canonical form; throws on anything else. */
export function canonicalDuration(value: string): string {
  return goDuration(durationSeconds(value));
}

/**
 * The form the provider reads Swarm service durations back in (Go's Duration.String() without a
 * trailing "0s" or "0m": "1m", "1m30s", "1h"); any other spelling leaves a diff in every plan.
 */
export function swarmDuration(seconds: number): string {
  const go = goDuration(seconds);
  return go.replace(/m0s$/, "m").replace(/h0m$/, "h");
}

/** Seconds of a duration written like 30s, 1m30s, 1m0s or 1h. */
export function durationSeconds(value: string): number {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(value);
  if (!m || value === "") throw new ValidationError("duration input", [`"${value}" is not a duration like 30s, 1m30s or 1h`]);
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}
