/**
 * Asks an OCI distribution registry whether a pinned manifest exists: `HEAD /v2/<name>/manifests/<digest>`,
 * answering a bearer-token challenge (ghcr.io, Docker Hub) or a Basic one. Nothing is downloaded.
 * Credentials go to the one registry they are for (and to the token service its challenge names),
 * never to another host an image reference happens to name.
 */
import { registryOf } from "./docker";

/** Every manifest type a release can be: a multi-arch index/list or a single manifest (OCI or Docker). */
export const MANIFEST_ACCEPT = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

export interface RegistryCredentials {
  /** The registry host they are for, e.g. ghcr.io. */
  readonly registry: string;
  readonly username: string;
  readonly password: string;
}

export type ManifestStatus =
  | { readonly state: "present" }
  | { readonly state: "missing"; readonly detail: string }
  | { readonly state: "error"; readonly detail: string };

export interface CheckOptions {
  readonly credentials?: RegistryCredentials;
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
}

/** Hosts served over plain HTTP: loopback only, as the Docker engine allows by default. */
function isLoopback(host: string): boolean {
  const name = host.replace(/:\d+$/, "");
  return name === "localhost" || /^127\.\d+\.\d+\.\d+$/.test(name) || name === "[::1]";
}

/** The registry's API base URL: Docker Hub's API lives at registry-1.docker.io. */
export function apiBase(registry: string): string {
  const host = registry === "docker.io" || registry === "index.docker.io" ? "registry-1.docker.io" : registry;
  return `${isLoopback(host) ? "http" : "https"}://${host}`;
}

/** registry, repository and digest of name[:tag]@sha256:<hex>; Docker Hub's one-part names get library/. */
export function splitReference(ref: string): { registry: string; repository: string; digest: string } {
  const at = ref.indexOf("@");
  if (at < 0) throw new Error(`${ref} has no digest`);
  const digest = ref.slice(at + 1);
  let name = ref.slice(0, at);
  const registry = registryOf(name);
  if (name.startsWith(`${registry}/`)) name = name.slice(registry.length + 1);
  const colon = name.lastIndexOf(":");
  if (colon > name.lastIndexOf("/")) name = name.slice(0, colon);
  if (registry === "docker.io" && !name.includes("/")) name = `library/${name}`;
  return { registry, repository: name, digest };
}

/** Parameters of a `WWW-Authenticate` header: scheme plus key="value" pairs. */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const m = /^\s*(\w+)\s*(.*)$/.exec(header);
  const params: Record<string, string> = {};
  if (!m) return { scheme: "", params };
  for (const p of m[2]!.matchAll(/(\w+)="([^"]*)"/g)) params[p[1]!.toLowerCase()] = p[2]!;
  return { scheme: m[1]!.toLowerCase(), params };
}

const basic = (c: RegistryCredentials) => `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}`;

/** Whether the manifest `ref` pins exists in its registry. */
export async function checkManifest(ref: string, options: CheckOptions = {}): Promise<ManifestStatus> {
  const doFetch = options.fetch ?? fetch;
  const timeout = options.timeoutMs ?? 15_000;
  const { registry, repository, digest } = splitReference(ref);
  const creds = options.credentials?.registry === registry ? options.credentials : undefined;
  const url = `${apiBase(registry)}/v2/${repository}/manifests/${digest}`;
  const head = (authorization?: string) =>
    doFetch(url, {
      method: "HEAD",
      headers: { Accept: MANIFEST_ACCEPT, ...(authorization ? { Authorization: authorization } : {}) },
      signal: AbortSignal.timeout(timeout),
    });
  try {
    let res = await head();
    if (res.status === 401) {
      const challenge = parseChallenge(res.headers.get("www-authenticate") ?? "");
      let authorization: string | undefined;
      if (challenge.scheme === "bearer") {
        const token = await bearerToken(challenge.params, repository, creds, doFetch, timeout);
        if ("error" in token) return { state: "error", detail: token.error };
        authorization = `Bearer ${token.token}`;
      } else if (challenge.scheme === "basic" && creds) authorization = basic(creds);
      else
        return {
          state: "error",
          detail: `${registry} wants credentials (401)${creds ? "" : `; set TF_VAR_registry_username and TF_VAR_registry_password for ${registry}`}`,
        };
      res = await head(authorization);
    }
    if (res.status === 200) {
      const served = res.headers.get("docker-content-digest");
      return served && served !== digest
        ? { state: "error", detail: `${registry} answered with another digest (${served})` }
        : { state: "present" };
    }
    if (res.status === 404) return { state: "missing", detail: `${registry} has no manifest ${digest} in ${repository} (404)` };
    if (res.status === 401 || res.status === 403)
      return {
        state: "error",
        detail: `${registry} refused access to ${repository} (${res.status}); check the credentials and their scope`,
      };
    return { state: "error", detail: `${registry} answered ${res.status} for ${repository}@${digest}` };
  } catch (e) {
    return { state: "error", detail: `${registry} unreachable: ${(e as Error).message}` };
  }
}

async function bearerToken(
  params: Record<string, string>,
  repository: string,
  creds: RegistryCredentials | undefined,
  doFetch: typeof fetch,
  timeout: number,
): Promise<{ token: string } | { error: string }> {
  const realm = params.realm;
  let realmUrl: URL;
  try {
    realmUrl = new URL(realm ?? "");
  } catch {
    return { error: `the registry's token challenge has no usable realm (${JSON.stringify(realm ?? "")})` };
  }
  // Never send credentials in the clear, except to a loopback token service.
  if (realmUrl.protocol !== "https:" && !(realmUrl.protocol === "http:" && isLoopback(realmUrl.host)))
    return { error: `the token realm ${realm} is not https; refusing to use it` };
  if (params.service) realmUrl.searchParams.set("service", params.service);
  realmUrl.searchParams.set("scope", params.scope ?? `repository:${repository}:pull`);
  const res = await doFetch(realmUrl, {
    headers: creds ? { Authorization: basic(creds) } : {},
    signal: AbortSignal.timeout(timeout),
  });
  if (!res.ok)
    return {
      error: `the token service ${realmUrl.host} refused a pull token for ${repository} (${res.status})${creds ? "; check the credentials" : "; set TF_VAR_registry_username and TF_VAR_registry_password"}`,
    };
  const body = (await res.json()) as { token?: unknown; access_token?: unknown };
  const token = typeof body.token === "string" ? body.token : typeof body.access_token === "string" ? body.access_token : undefined;
  return token ? { token } : { error: `the token service ${realmUrl.host} answered without a token` };
}

export const CHECK_USAGE = `usage: npm run release:check -- --env <test|prod> [--env ...] [--timeout <seconds>]

Asks the registry whether every image the environment would deploy exists: the releases file
(environments/releases.json, or UPDATEIO_<ENV>_RELEASES_FILE) with the UPDATEIO_<ENV>_<SERVICE>_IMAGE
overrides, by digest (HEAD /v2/<name>/manifests/<digest>; nothing is pulled). Credentials for the
environment's registry (UPDATEIO_<ENV>_REGISTRY, default ghcr.io) come from TF_VAR_registry_username
and TF_VAR_registry_password, the same pair Terraform uses; they are sent to that registry only.

Exit code: 0 every image exists, 1 an image is missing or could not be checked, 2 bad input.`;

export interface CheckIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

/** What one environment deploys, from its own reader (prod.ts): images by service, and its registry. */
export type EnvironmentImages = (
  env: "test" | "prod",
  source: Readonly<Record<string, string | undefined>>,
) => { images: Record<string, string>; registry: string; problems: string[] };

/** The release:check command; returns the exit code. */
export async function runDigestCheck(
  argv: readonly string[],
  source: Readonly<Record<string, string | undefined>>,
  io: CheckIo,
  imagesOf: EnvironmentImages,
  options: Pick<CheckOptions, "fetch"> = {},
): Promise<number> {
  const envs: ("test" | "prod")[] = [];
  const problems: string[] = [];
  let timeoutMs = 15_000;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] =
      arg.startsWith("--") && arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg];
    const value = () => inline ?? argv[++i] ?? "";
    if (flag === "--env") {
      const env = value();
      if (env === "test" || env === "prod") envs.push(env);
      else problems.push(`--env ${JSON.stringify(env)}: write test or prod (dev builds its images from source)`);
    } else if (flag === "--timeout") {
      const v = value();
      if (/^\d{1,3}$/.test(v) && Number(v) >= 1) timeoutMs = Number(v) * 1000;
      else problems.push(`--timeout ${JSON.stringify(v)}: write whole seconds from 1 to 999`);
    } else if (flag === "-h" || flag === "--help") {
      io.out(`${CHECK_USAGE}\n`);
      return 0;
    } else problems.push(`${JSON.stringify(arg)} is not a flag of release:check; see --help`);
  }
  if (envs.length === 0) problems.push("--env is missing; pass --env prod (or test)");
  if (problems.length > 0) {
    io.err(`release:check: ${problems.join("; ")}\n`);
    return 2;
  }
  let failed = 0;
  for (const env of [...new Set(envs)]) {
    const { images, registry, problems: configProblems } = imagesOf(env, source);
    if (configProblems.length > 0) {
      io.err(`release:check ${env}: the configuration is refused:\n${configProblems.map((p) => `  - ${p}`).join("\n")}\n`);
      return 2;
    }
    const user = source.TF_VAR_registry_username?.trim();
    const password = source.TF_VAR_registry_password ?? "";
    const credentials = user ? { registry, username: user, password } : undefined;
    const byRef = new Map<string, string[]>();
    for (const [service, ref] of Object.entries(images)) byRef.set(ref, [...(byRef.get(ref) ?? []), service]);
    const results = await Promise.all(
      [...byRef.keys()].map(async (ref) => {
        const status: ManifestStatus = /@sha256:0{64}$/.test(ref)
          ? { state: "missing", detail: "placeholder digest (sha256:000...): no release has pinned this service yet" }
          : !/@sha256:[0-9a-f]{64}$/.test(ref)
            ? { state: "missing", detail: "not pinned by digest" }
            : await checkManifest(ref, { credentials, timeoutMs, ...options });
        return { ref, services: byRef.get(ref)!, status };
      }),
    );
    const bad = results.filter((r) => r.status.state !== "present");
    failed += bad.length;
    io.out(
      `release:check ${env}: ${results.length - bad.length} of ${results.length} image${results.length === 1 ? "" : "s"} found in the registry${credentials ? ` (credentials for ${registry})` : " (anonymous)"}\n`,
    );
    for (const r of results) {
      const line = `  ${r.status.state === "present" ? "ok     " : r.status.state === "missing" ? "MISSING" : "ERROR  "} ${r.services.join(", ")}: ${r.ref}`;
      io.out(`${r.status.state === "present" ? line : `${line}\n          ${r.status.detail}`}\n`);
    }
  }
  if (failed > 0)
    io.err(
      `release:check: ${failed} image${failed === 1 ? "" : "s"} cannot be pulled as pinned; nothing must be applied until the release's pins exist (docs/runbooks/release.md)\n`,
    );
  return failed > 0 ? 1 : 0;
}
