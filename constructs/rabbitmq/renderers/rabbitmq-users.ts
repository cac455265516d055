/**
 * Pure renderers for RabbitBroker's users job (`<env>-rabbitmq-users`): the app users' definitions
 * file (a secret: it carries their passwords), the expected users and permissions (no secret), and
 * the job's script (assets/sync-users.sh), which imports the file into the running cluster with
 * `rabbitmqctl import_definitions`, deletes the app users the file no longer lists and checks the
 * result. Adding an app or rotating a password changes these files only, never a node's.
 *
 * Import (rabbit_definitions -> rabbit_auth_backend_internal:put_user/3, 3.10 and 4.x) creates a
 * missing user and, for an existing one, hashes the new cleartext `password` and replaces its tags;
 * set_permissions replaces its permissions on the vhost. It deletes nothing. Checked on a real
 * broker by __tests__/rabbitmq/rabbit-users.integration.test.ts.
 */
import { join } from "node:path";
import { absolutePathProblems, fillAsset, readAsset, waitSecondsProblems } from "../../kit/assets";
import { jobLogFunctions } from "../../kit/job-log";
import { fillFragment } from "../../kit/scheduled-backup-script";
import { ValidationError } from "../../contract/errors";
import type { RabbitPermissions } from "./rabbitmq-definitions";

const ASSETS = join(__dirname, "..", "assets");
const SYNC_USERS_SH = readAsset(ASSETS, "sync-users.sh");
const INSTALL_COOKIE_SH = readAsset(ASSETS, "install-cookie.sh");

/**
 * The tag every app user carries, and only they: the users job deletes a user only if it carries it
 * and the file no longer lists it, so an operator's user or the legacy user is never deleted. A tag
 * grants nothing by itself (RabbitMQ knows administrator, monitoring, policymaker, management).
 */
export const RABBIT_APP_TAG = "updateio-app";

/** `install_cookie` (assets/install-cookie.sh), for a script's @@INSTALL_COOKIE@@: RabbitBackup's hooks and the users job share it. */
export function installCookieFunction(): string {
  return fillFragment(INSTALL_COOKIE_SH, {}, "installCookieFunction");
}

const NODE = /^rabbit@[a-z][a-z0-9-]{0,62}$/;
const VHOST = /^[a-z0-9_-]+$/;
const USER = /^[a-z][a-z0-9_-]{0,100}$/;
/** A permission regex as the file and list_permissions carry it: no tab, newline, quote or backslash-quote. */
const PERMISSION = /^[^\t\n\r"]+$/;

export interface RabbitAppUser {
  readonly name: string;
  /** Cleartext password (a Terraform token, letters and digits at apply); hashed by RabbitMQ on import. */
  readonly password: string;
  readonly permissions: RabbitPermissions;
}

export interface RabbitUsersInput {
  readonly vhost: string;
  readonly users: readonly RabbitAppUser[];
  /** Users the job must never create or delete: the boot definitions' (the legacy user). */
  readonly keepUsers: readonly string[];
}

export function rabbitUsersProblems(input: RabbitUsersInput): string[] {
  const p: string[] = [];
  if (!VHOST.test(input.vhost)) p.push(`vhost: "${input.vhost}" must be a simple name (lowercase letters, digits, _ and -)`);
  const seen = new Set<string>();
  for (const k of input.keepUsers)
    if (!USER.test(k)) p.push(`keepUsers: "${k}" must be a simple user name (lowercase letters, digits, _ and -)`);
  for (const [i, u] of input.users.entries()) {
    if (!USER.test(u.name)) p.push(`users.${i}.name: "${u.name}" must be a simple user name (lowercase letters, digits, _ and -)`);
    if (seen.has(u.name)) p.push(`users.${i}.name: "${u.name}" is listed twice (fix: add each app once)`);
    if (input.keepUsers.includes(u.name))
      p.push(`users.${i}.name: "${u.name}" is a boot user (keepUsers), which the job never manages (fix: pick another app name)`);
    seen.add(u.name);
    // The job reads each password back with sed from its one-line entry: no quote, backslash or space.
    if (!/^[^"\\\s]+$/.test(u.password))
      p.push(`users.${i}.password: must be non-empty, without quotes, backslashes or spaces (fix: pass a GeneratedSecret's value)`);
    for (const key of ["configure", "write", "read"] as const)
      if (!PERMISSION.test(u.permissions[key]))
        p.push(`users.${i}.permissions.${key}: "${u.permissions[key]}" must be a non-empty regex without tabs, newlines or quotes`);
  }
  return p;
}

function check(what: string, input: RabbitUsersInput): void {
  const problems = rabbitUsersProblems(input);
  if (problems.length > 0) throw new ValidationError(`${what} input`, problems);
}

const sorted = (users: readonly RabbitAppUser[]) => [...users].sort((a, b) => a.name.localeCompare(b.name));

/**
 * The app users' definitions (vhost, users tagged RABBIT_APP_TAG, their permissions), one object a
 * line so the job can read each password back without a JSON parser. The vhost is listed so the
 * permissions import even before the boot definitions created it.
 */
export function renderRabbitUserDefinitions(input: RabbitUsersInput): string {
  check("renderRabbitUserDefinitions", input);
  const users = sorted(input.users);
  const list = (items: unknown[]) => (items.length === 0 ? "[]" : `[\n${items.map((i) => `    ${JSON.stringify(i)}`).join(",\n")}\n  ]`);
  return [
    "{",
    `  "users": ${list(users.map((u) => ({ name: u.name, password: u.password, tags: [RABBIT_APP_TAG] })))},`,
    `  "vhosts": ${list([{ name: input.vhost }])},`,
    `  "permissions": ${list(users.map((u) => ({ user: u.name, vhost: input.vhost, ...pick(u.permissions) })))}`,
    "}",
    "",
  ].join("\n");
}

const pick = (p: RabbitPermissions) => ({ configure: p.configure, write: p.write, read: p.read });

/** user<TAB>configure<TAB>write<TAB>read per app user, sorted: what `list_permissions -p <vhost>` must print for them. */
export function renderRabbitExpectedPermissions(input: RabbitUsersInput): string {
  check("renderRabbitExpectedPermissions", input);
  return sorted(input.users)
    .map((u) => `${u.name}\t${u.permissions.configure}\t${u.permissions.write}\t${u.permissions.read}\n`)
    .join("");
}

export interface RabbitUsersScriptInput {
  /** Erlang node names, e.g. ["rabbit@rabbitmq"] or ["rabbit@rabbitmq-1", ...]: the first that answers is used. */
  readonly nodes: readonly string[];
  readonly cookieFile: string;
  /** The secret file renderRabbitUserDefinitions made. */
  readonly usersFile: string;
  /** The file renderRabbitExpectedPermissions made. */
  readonly expectedFile: string;
  readonly vhost: string;
  /** Never deleted, even if tagged: the boot definitions' users. */
  readonly keepUsers: readonly string[];
  /** How long to wait for a node to answer. */
  readonly waitSeconds: number;
}

export function renderRabbitUsersScript(input: RabbitUsersScriptInput): string {
  const p: string[] = [];
  if (input.nodes.length === 0) p.push("nodes: is empty (fix: pass the broker's nodeHosts as rabbit@<host>)");
  for (const n of input.nodes) if (!NODE.test(n)) p.push(`nodes: "${n}" must look like rabbit@<host> (lowercase host name)`);
  p.push(...absolutePathProblems(input, ["cookieFile", "usersFile", "expectedFile"]));
  if (!input.usersFile.startsWith("/run/secrets/"))
    p.push(`usersFile: "${input.usersFile}" holds passwords: it must be under /run/secrets/`);
  if (!VHOST.test(input.vhost)) p.push(`vhost: "${input.vhost}" must be a simple name (lowercase letters, digits, _ and -)`);
  if (input.keepUsers.length === 0) p.push("keepUsers: is empty (fix: pass the boot definitions' users, at least the legacy user)");
  for (const k of input.keepUsers) if (!USER.test(k)) p.push(`keepUsers: "${k}" must be a simple user name`);
  p.push(...waitSecondsProblems(input.waitSeconds));
  if (p.length > 0) throw new ValidationError("renderRabbitUsersScript input", p);
  return fillAsset(
    SYNC_USERS_SH,
    {
      NODES: input.nodes.join(" "),
      COOKIE_FILE: input.cookieFile,
      USERS_FILE: input.usersFile,
      EXPECTED_FILE: input.expectedFile,
      VHOST: input.vhost,
      APP_TAG: RABBIT_APP_TAG,
      KEEP_USERS: input.keepUsers.join(" "),
      WAIT_SECONDS: input.waitSeconds,
      INSTALL_COOKIE: installCookieFunction(),
      LOG_FUNCTIONS: jobLogFunctions("rabbitmq-users"),
    },
    "renderRabbitUsersScript",
  );
}
