/**
 * Canonical forms of the values an attacker can spell many ways: users, host paths, capabilities,
 * security options, image references, durations and sizes. Each normaliser follows what the Docker
 * engine accepts (and, where unsure, errs towards "dangerous").
 */

// ---------------------------------------------------------------------------------------------
// Literals wrapped in an expression: "${true}", "${0}", '${"0"}'
// ---------------------------------------------------------------------------------------------

const WRAPPED_LITERAL = /^\$\{\s*(true|false|null|[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|"(?:[^"\\$%]|\\.)*")\s*\}$/;

/**
 * The value of a literal written as an expression (`"${true}"` → true, `'${"0"}'` → "0"), or
 * undefined when `value` is not such a wrapped literal. Such values are never vouched for: they
 * only hide a literal from a reader.
 */
export function unwrapLiteral(value: unknown): { value: unknown } | undefined {
  if (typeof value !== "string") return undefined;
  const m = WRAPPED_LITERAL.exec(value.trim());
  if (!m) return undefined;
  const text = m[1]!;
  if (text === "true") return { value: true };
  if (text === "false") return { value: false };
  if (text === "null") return { value: null };
  if (text.startsWith('"')) {
    try {
      return { value: JSON.parse(text) as string };
    } catch {
      return { value: text.slice(1, -1) };
    }
  }
  return { value: Number(text) };
}

/** `value`, or the literal inside `${...}` when it is a wrapped literal. */
export function plain(value: unknown): unknown {
  const unwrapped = unwrapLiteral(value);
  return unwrapped ? unwrapped.value : value;
}

/**
 * A Terraform bool as the provider would see it: true/false, the strings "true"/"false" (and
 * "1"/"0", which Terraform also converts), or undefined when unset; "unknown" for anything else.
 */
export function boolOf(value: unknown): boolean | undefined | "unknown" {
  const v = plain(value);
  if (v === undefined || v === null) return undefined;
  if (v === true || v === false) return v;
  if (typeof v === "string") {
    const t = v.trim().toLowerCase();
    if (t === "true" || t === "1") return true;
    if (t === "false" || t === "0") return false;
  }
  if (typeof v === "number") return v !== 0;
  return "unknown";
}

/**
 * A number as Terraform reads it from a string: cty.ParseNumberVal, i.e. Go's big.ParseFloat in
 * base 10. An optional sign, digits with an optional fraction ("1.", ".5", "1.5"), an optional
 * exponent, decimal ("e"/"E": "2541e0" = 2541) or binary ("p"/"P": "1p3" = 8), and nothing else: no
 * spaces, no "_", no "0x" (Terraform refuses those, so they never reach the provider as a number).
 */
const TERRAFORM_NUMBER = /^([-+]?)(\d+\.?\d*|\.\d+)(?:([eEpP])([-+]?\d+))?$/;

/**
 * A Terraform number: a finite JSON number, or a string Terraform converts to one (see
 * TERRAFORM_NUMBER); undefined otherwise, including "Inf" and values beyond a double's range,
 * which no rule can bound. Rules must treat undefined for a value that IS set as a finding (never
 * as 0, never as "skip"): see `isUnreadableNumber`.
 */
export function numberOf(value: unknown): number | undefined {
  const v = plain(value);
  if (typeof v === "number") return Number.isFinite(v) ? v : undefined;
  if (typeof v !== "string") return undefined;
  const m = TERRAFORM_NUMBER.exec(v);
  if (!m) return undefined;
  const [, sign, mantissa, mark, exponent] = m;
  let n: number;
  if (mark === undefined) n = Number(`${sign}${mantissa}`);
  else if (mark === "e" || mark === "E") n = Number(`${sign}${mantissa}e${exponent}`);
  else n = Number(`${sign}${mantissa}`) * 2 ** Number(exponent);
  return Number.isFinite(n) ? n : undefined;
}

/** True when a value is set (not undefined/null) but is no number Terraform would read (a finding). */
export function isUnreadableNumber(value: unknown): boolean {
  const v = plain(value);
  return v !== undefined && v !== null && numberOf(v) === undefined;
}

// ---------------------------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------------------------

/** Unprivileged accounts of the images we run, accepted by name (any other name may map to uid 0). */
export const KNOWN_UNPRIVILEGED_USERS = [
  "nobody",
  "postgres",
  "redis",
  "rabbitmq",
  "node",
  "grafana",
  "prometheus",
  "www-data",
  "nginx",
  "caddy",
];
/** Supplementary groups that amount to root on the host or in the container. */
const PRIVILEGED_GROUPS = ["root", "0", "docker", "disk", "shadow", "sudo", "wheel", "adm", "kmem", "sys"];
const MAX_ID = 2 ** 31 - 1;

/** The engine parses ids with Go's Atoi: "+0", "-0", "000" and " 0" (after trimming by us) are all 0. */
function numericId(text: string): number | undefined {
  const t = text.trim();
  return /^[-+]?\d+$/.test(t) ? Number(t) : undefined;
}

export type UserVerdict =
  { readonly kind: "non-root" } | { readonly kind: "root"; readonly why: string } | { readonly kind: "unknown"; readonly why: string };

/**
 * Whether `user` (`uid`, `name`, `uid:gid`, `name:group`) runs as root. Names other than the
 * well-known unprivileged accounts cannot be judged: an image may map any name to uid 0.
 */
export function judgeUser(user: unknown): UserVerdict {
  const v = plain(user);
  if (v === undefined || v === null) return { kind: "root", why: "user is unset (the image's user, often root)" };
  if (typeof v !== "string" && typeof v !== "number") return { kind: "unknown", why: `user ${JSON.stringify(v)} is not a string` };
  const text = String(v);
  if (text.trim() === "") return { kind: "root", why: `user "${text}" is empty (the image's user, often root)` };
  if (text !== text.trim()) return { kind: "root", why: `user "${text}" has surrounding whitespace, which hides its value` };
  const [u, ...rest] = text.split(":");
  if (rest.length > 1) return { kind: "unknown", why: `user "${text}" is not uid[:gid]` };
  const uid = numericId(u!);
  if (uid !== undefined) {
    if (uid === 0) return { kind: "root", why: `user "${text}" is uid 0` };
    if (uid < 0 || uid > MAX_ID) return { kind: "unknown", why: `user "${text}" is outside the uid range` };
    if (!/^\d+$/.test(u!)) return { kind: "unknown", why: `user "${text}" writes its uid with a sign` };
    return { kind: "non-root" };
  }
  if (u!.toLowerCase() === "root") return { kind: "root", why: `user "${text}" is root` };
  if (!KNOWN_UNPRIVILEGED_USERS.includes(u!)) {
    return { kind: "unknown", why: `user name "${u}" is not a known unprivileged account (an image may map any name to uid 0)` };
  }
  return { kind: "non-root" };
}

export function isPrivilegedGroup(group: string): boolean {
  const g = group.trim().toLowerCase();
  const id = numericId(g);
  return id === 0 || PRIVILEGED_GROUPS.includes(g);
}

// ---------------------------------------------------------------------------------------------
// Host paths
// ---------------------------------------------------------------------------------------------

/**
 * POSIX normalisation of an absolute host path: "." and ".." resolved, slashes collapsed, no
 * trailing slash, "/var/run" folded to "/run" (a symlink on every current distribution).
 */
export function normalizeHostPath(p: string): string {
  const out: string[] = [];
  for (const seg of p.trim().split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") out.pop();
    else out.push(seg);
  }
  if (out[0] === "var" && out[1] === "run") out.splice(0, 2, "run");
  return `/${out.join("/")}`;
}

/** The Docker socket, and every directory that holds it. */
export const SOCKET_PATHS = ["/run/docker.sock"];

export function isSocketPath(hostPath: string): boolean {
  const p = normalizeHostPath(hostPath);
  return SOCKET_PATHS.includes(p) || p.endsWith("/docker.sock") || p.endsWith("/containerd.sock") || p.endsWith("/dockershim.sock");
}

/** True when a bind of `hostPath` makes the Docker socket reachable (the socket or a parent of it). */
export function exposesDockerSocket(hostPath: string): boolean {
  const p = normalizeHostPath(hostPath);
  return isSocketPath(p) || SOCKET_PATHS.some((s) => p === "/" || s.startsWith(`${p}/`));
}

/**
 * Host paths that give away the host when mounted, even read-only (kernel interfaces, devices,
 * credentials, the engines' state, system binaries). A bind of one of them, of anything below, or
 * of a parent directory, is a finding.
 */
export const SENSITIVE_HOST_PATHS = [
  "/proc",
  "/sys",
  "/dev",
  "/etc",
  "/boot",
  "/root",
  "/home",
  "/usr",
  "/bin",
  "/sbin",
  "/lib",
  "/lib32",
  "/lib64",
  "/libx32",
  "/var/lib/docker",
  "/var/lib/containerd",
  "/var/lib/kubelet",
  "/run/containerd",
  "/run/docker",
  "/run/systemd",
  "/var/log",
  "/var/spool/cron",
  "/snap",
  "/opt/containerd",
];

/** The sensitive path a bind of `hostPath` reaches, or undefined. */
export function sensitiveHostPath(hostPath: string): string | undefined {
  const p = normalizeHostPath(hostPath);
  if (p === "/") return "/";
  return SENSITIVE_HOST_PATHS.find((s) => p === s || p.startsWith(`${s}/`) || s.startsWith(`${p}/`));
}

// ---------------------------------------------------------------------------------------------
// Capabilities and security options
// ---------------------------------------------------------------------------------------------

/** `" cap_sys_admin "` → "SYS_ADMIN" (the engine upper-cases and adds CAP_ itself). */
export function normalizeCapability(cap: string): string {
  return cap.trim().toUpperCase().replace(/^CAP_/, "");
}

/** Capabilities an app may add back after dropping ALL (each still needs a reason in the kit). */
export const ALLOWED_CAPABILITIES = ["NET_BIND_SERVICE", "CHOWN", "SETUID", "SETGID"];

/** True when a `drop` list drops every capability (exactly the token the engine accepts). */
export function dropsAll(drop: readonly string[]): boolean {
  return drop.some((c) => /^(CAP_)?ALL$/i.test(c));
}

export interface SecurityOpt {
  readonly raw: string;
  readonly key: string;
  readonly value: string | undefined;
}

/** `key=value`, `key:value` or `key` (the engine's own split, keys compared case-insensitively by us). */
export function parseSecurityOpt(raw: string): SecurityOpt {
  const t = raw.trim();
  const i = t.search(/[=:]/);
  return i === -1
    ? { raw, key: t.toLowerCase(), value: undefined }
    : { raw, key: t.slice(0, i).trim().toLowerCase(), value: t.slice(i + 1).trim() };
}

/** Go's strconv.ParseBool, which the engine uses for no-new-privileges. */
export function parseGoBool(value: string): boolean | undefined {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(value)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(value)) return false;
  return undefined;
}

/**
 * The no-new-privileges setting the engine ends up with for a list in the order it RECEIVES it: the
 * LAST entry wins ("true" then "false" leaves NoNewPrivs 0); a bare "no-new-privileges" means true.
 * The provider sends security_opts in set (hash) order, not as written: the rule uses
 * `noNewPrivilegesEntries`, which does not depend on the order.
 */
export function effectiveNoNewPrivileges(opts: readonly string[]): { value: boolean | undefined; entries: string[] } {
  let value: boolean | undefined;
  const entries: string[] = [];
  for (const raw of opts) {
    const o = parseSecurityOpt(raw);
    if (o.key !== "no-new-privileges") continue;
    entries.push(raw);
    value = o.value === undefined ? true : (parseGoBool(o.value) ?? false);
  }
  return { value, entries };
}

/** The only spellings the engine reads as no-new-privileges ON (exact: the engine neither trims nor folds case). */
const NO_NEW_PRIVILEGES_ON = /^no-new-privileges(?:[=:](?:1|t|T|TRUE|true|True))?$/;

/**
 * The no-new-privileges entries of `security_opts`, split into the exact "on" spellings and every
 * other entry that mentions the option (off, unparsable, other case or spacing). `security_opts` is
 * a set: the provider sends it in hash order, not as written, so which entry the engine applies
 * last is not under the author's control; only a list whose sole such entry is "on" is safe.
 */
export function noNewPrivilegesEntries(opts: readonly string[]): { on: string[]; other: string[] } {
  const on: string[] = [];
  const other: string[] = [];
  for (const raw of opts) {
    if (NO_NEW_PRIVILEGES_ON.test(raw)) on.push(raw);
    else if (/no-new-privileges/i.test(raw) || parseSecurityOpt(raw).key === "no-new-privileges") other.push(raw);
  }
  return { on, other };
}

// ---------------------------------------------------------------------------------------------
// Images
// ---------------------------------------------------------------------------------------------

// Shared with the kit, which refuses what the policy would flag: defined once in the contract.
export { imageRepository, isPinnedByDigest } from "../contract/index";

// ---------------------------------------------------------------------------------------------
// Durations and sizes
// ---------------------------------------------------------------------------------------------

const DURATION_UNITS: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };

/** Seconds of a Go duration ("1m30s", "500ms"), or undefined when it is not one. */
export function goDurationSeconds(value: unknown): number | undefined {
  const v = plain(value);
  if (typeof v !== "string") return undefined;
  const t = v.trim();
  if (t === "0") return 0;
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(t)) return undefined;
  let total = 0;
  for (const m of t.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
  return total;
}

/** Bytes of a log size option ("10m", "1g", "512k", "100"), or undefined (e.g. "-1" = unlimited). */
export function logSizeBytes(value: unknown): number | undefined {
  const v = plain(value);
  if (typeof v !== "string") return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)b?$/i.exec(v.trim());
  if (!m) return undefined;
  const unit = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as "" | "k" | "m" | "g"];
  return Number(m[1]) * unit;
}
