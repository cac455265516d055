/**
 * The Terraform CLI for scripts/test-terraform.ts and scripts/e2e.ts: find it, build the
 * environment it runs with (a TF_CLI_CONFIG_FILE that points nowhere is dropped with a note), see
 * where the providers could come from (filesystem mirrors, implied local mirrors, the plugin
 * cache), and read `terraform init` failures: a configuration error is a failure, a provider that
 * cannot be installed is a reason to skip.
 */
import { readFileSync, statSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { run, which, type RunResult } from "./process";
import type { RequiredProvider } from "./stack";

export interface TerraformBinary {
  readonly path?: string;
  readonly version?: string;
  /** Why it cannot be used, when path is undefined. */
  readonly problem?: string;
}

export async function findTerraform(env: NodeJS.ProcessEnv): Promise<TerraformBinary> {
  const bin = which("terraform");
  if (!bin) return { problem: "terraform is not on PATH (install Terraform >= 1.5: https://developer.hashicorp.com/terraform/install)" };
  const result = await run(bin, ["version", "-json"], { env, timeoutSeconds: 60 });
  if (result.code !== 0) return { path: bin, problem: `\`terraform version\` failed: ${result.output.trim().split("\n")[0]}` };
  try {
    return { path: bin, version: (JSON.parse(result.stdout) as { terraform_version?: string }).terraform_version };
  } catch {
    return { path: bin, version: result.stdout.trim().split("\n")[0] };
  }
}

export interface CliConfig {
  /** Environment to run terraform with. */
  readonly env: NodeJS.ProcessEnv;
  /** What was adjusted or found, one sentence each. */
  readonly notes: readonly string[];
  /** The CLI config file in effect, if any. */
  readonly file?: string;
  /** filesystem_mirror paths from an explicit provider_installation block. */
  readonly mirrors: readonly string[];
  /** Whether the config has a provider_installation block (then implied mirrors are not used). */
  readonly explicitInstallation: boolean;
  /** Whether the registry may be asked (no provider_installation block, or one with direct {}). */
  readonly directAllowed: boolean;
  readonly pluginCacheDir?: string;
}

/**
 * Terraform's CLI configuration as these scripts will use it. TF_CLI_CONFIG_FILE pointing to a
 * missing file only makes terraform warn on every command; it is dropped (with a note) so the
 * defaults apply. The plugin cache is set as `cdktf` sets it (~/.terraform.d/plugin-cache) when
 * TF_PLUGIN_CACHE_DIR is unset and that folder exists.
 */
export function cliConfig(base: NodeJS.ProcessEnv): CliConfig {
  const env: NodeJS.ProcessEnv = { ...base, TF_IN_AUTOMATION: "1", TF_INPUT: "0", CHECKPOINT_DISABLE: "1" };
  const notes: string[] = [];
  let file: string | undefined;
  const configured = base.TF_CLI_CONFIG_FILE;
  if (configured !== undefined && configured !== "") {
    if (isFile(configured)) {
      file = configured;
    } else {
      delete env.TF_CLI_CONFIG_FILE;
      notes.push(
        `TF_CLI_CONFIG_FILE=${configured} does not exist: running terraform without it (default provider installation: the registry and the implied local mirrors)`,
      );
    }
  } else {
    const home = path.join(os.homedir(), ".terraformrc");
    if (isFile(home)) file = home;
  }
  const text = file ? readFileSync(file, "utf8") : "";
  const mirrors = mirrorPaths(text);
  const explicitInstallation = /provider_installation/.test(text);
  const directAllowed = !explicitInstallation || /"?direct"?\s*[:=]?\s*[{[]/.test(text);
  let pluginCacheDir = base.TF_PLUGIN_CACHE_DIR || /plugin_cache_dir"?\s*[=:]\s*"([^"]+)"/.exec(text)?.[1];
  if (!pluginCacheDir) {
    const cdktfDefault = path.join(os.homedir(), ".terraform.d", "plugin-cache");
    if (isDir(cdktfDefault)) {
      pluginCacheDir = cdktfDefault;
      env.TF_PLUGIN_CACHE_DIR = cdktfDefault;
      notes.push(`TF_PLUGIN_CACHE_DIR is unset: using ${cdktfDefault}, as cdktf does`);
    }
  }
  return {
    env,
    notes,
    file,
    mirrors,
    explicitInstallation,
    directAllowed,
    pluginCacheDir: pluginCacheDir ? expandHome(pluginCacheDir) : undefined,
  };
}

/** Terraform's platform name for this machine, e.g. linux_amd64. */
export function platform(): string {
  const osName = ({ win32: "windows" } as Record<string, string>)[process.platform] ?? process.platform;
  const arch = ({ x64: "amd64", ia32: "386" } as Record<string, string>)[process.arch] ?? process.arch;
  return `${osName}_${arch}`;
}

/** The implied local mirror directories Terraform searches on this OS when no provider_installation block exists. */
export function impliedMirrors(env: NodeJS.ProcessEnv): string[] {
  if (process.platform === "win32") return [path.join(env.APPDATA ?? os.homedir(), "terraform.d", "plugins")];
  const dataHome = env.XDG_DATA_HOME || path.join(os.homedir(), ".local", "share");
  const dataDirs = (env.XDG_DATA_DIRS || "/usr/local/share:/usr/share").split(":").filter((d) => d !== "");
  return [
    path.join(os.homedir(), ".terraform.d", "plugins"),
    path.join(dataHome, "terraform", "plugins"),
    ...dataDirs.map((d) => path.join(d, "terraform", "plugins")),
  ];
}

/**
 * Where a provider version for this platform sits in a mirror or cache directory, in either of
 * Terraform's layouts: unpacked HOST/NS/TYPE/VERSION/PLATFORM/ or packed
 * HOST/NS/TYPE/terraform-provider-TYPE_VERSION_PLATFORM.zip.
 */
export function findInDirectory(dir: string, provider: RequiredProvider): string | undefined {
  const version = provider.version.replace(/^[=\s]+/, "");
  const type = provider.address.split("/").pop()!;
  const unpacked = path.join(dir, provider.address, version, platform());
  if (isDir(unpacked)) return unpacked;
  const packed = path.join(dir, provider.address, `terraform-provider-${type}_${version}_${platform()}.zip`);
  if (isFile(packed)) return packed;
  return undefined;
}

export interface ProviderSources {
  /** One line per provider: where it was found, or that it was not. */
  readonly lines: readonly string[];
  /** Providers found in a mirror (installable offline). */
  readonly inMirror: readonly string[];
}

/** Looks for every provider in the configured mirrors, the implied mirrors and the plugin cache. */
export function providerSources(cfg: CliConfig, providers: readonly RequiredProvider[]): ProviderSources {
  const mirrors = cfg.explicitInstallation ? cfg.mirrors : impliedMirrors(cfg.env);
  const lines: string[] = [];
  const inMirror: string[] = [];
  for (const p of providers) {
    const label = `${p.source} ${p.version}`;
    const mirror = mirrors.map((d) => findInDirectory(d, p)).find((x) => x !== undefined);
    const cached = cfg.pluginCacheDir ? findInDirectory(cfg.pluginCacheDir, p) : undefined;
    if (mirror) {
      inMirror.push(label);
      lines.push(`${label}: in filesystem mirror ${mirror}`);
    } else if (cached) {
      lines.push(
        `${label}: in the plugin cache (${cached}), but not in a mirror; terraform init still asks the registry which versions exist, so offline it needs a filesystem mirror`,
      );
    } else {
      lines.push(
        `${label}: not in any ${cfg.explicitInstallation ? "configured filesystem mirror" : "implied local mirror"}${mirrors.length ? ` (${mirrors.join(", ")})` : ""}${cfg.pluginCacheDir ? " nor the plugin cache" : ""}; ${cfg.directAllowed ? "only the registry can supply it" : "and the CLI config's provider_installation has no direct {} block, so the registry is not asked either"}`,
      );
    }
  }
  return { lines, inMirror };
}

// ---------------------------------------------------------------------------------------------
// Reading terraform's errors
// ---------------------------------------------------------------------------------------------

export interface TerraformDiagnostic {
  readonly summary: string;
  /** "on cdk.tf.json line 125, in resource.x.y" when the error points into the configuration. */
  readonly location?: string;
  /** The first paragraph of the explanation, joined into one line. */
  readonly detail: string;
}

/** Splits `-no-color` output into its Error diagnostics. */
export function errorsOf(output: string): TerraformDiagnostic[] {
  const lines = output
    .replace(/\r/g, "")
    .split("\n")
    .map((l) => l.replace(/^[│╷╵]\s?/, ""));
  const diagnostics: TerraformDiagnostic[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^Error: (.*)$/.exec(lines[i]!.trim());
    if (!m) continue;
    const body: string[] = [];
    for (let j = i + 1; j < lines.length && !/^(Error|Warning): /.test(lines[j]!.trim()); j++) body.push(lines[j]!);
    const paragraphs = body
      .join("\n")
      .split(/\n\s*\n/)
      .map((p) => p.trim())
      .filter((p) => p !== "");
    const locationPara = paragraphs.find((p) => p.startsWith("on "));
    const location = locationPara?.split("\n")[0]!.replace(/:$/, "");
    const detailPara = paragraphs.find((p) => !p.startsWith("on ") && !/^\d+:/.test(p) && !p.startsWith("├") && !p.startsWith("│")) ?? "";
    diagnostics.push({
      summary: m[1]!.trim(),
      location,
      detail: detailPara
        .split("\n")
        .map((l) => l.trim())
        .join(" "),
    });
  }
  return diagnostics;
}

export type InitOutcome =
  | { readonly kind: "ok" }
  | { readonly kind: "config"; readonly diagnostics: readonly TerraformDiagnostic[] }
  | { readonly kind: "providers"; readonly providers: readonly string[]; readonly firstError: string }
  | { readonly kind: "other"; readonly message: string };

const PROVIDER_INSTALL =
  /Failed to query available provider packages|Failed to install provider|Failed to resolve provider packages|Incompatible provider version|could not connect to registry|not found in any of the search locations|Failed to download|Provider registry is unavailable|Invalid provider registry host/i;

/** What a `terraform init` run means for the caller. */
export function classifyInit(result: RunResult, providers: readonly RequiredProvider[]): InitOutcome {
  if (result.code === 0) return { kind: "ok" };
  if (result.spawnError) return { kind: "other", message: `terraform could not be started: ${result.spawnError}` };
  if (result.timedOut) return { kind: "other", message: "terraform init timed out (a registry or mirror that does not answer?)" };
  const diagnostics = errorsOf(result.output);
  const configErrors = diagnostics.filter((d) => d.location !== undefined);
  if (/including problems\s+with the configuration/.test(result.output) || configErrors.length > 0) {
    return { kind: "config", diagnostics: configErrors.length > 0 ? configErrors : diagnostics };
  }
  const install = diagnostics.filter((d) => PROVIDER_INSTALL.test(`${d.summary} ${d.detail}`));
  if (install.length > 0 || PROVIDER_INSTALL.test(result.output)) {
    const named = providers.filter((p) => install.some((d) => d.detail.toLowerCase().includes(p.source.toLowerCase())));
    const list = (named.length > 0 ? named : providers).map((p) => `${p.source} ${p.version}`);
    const first = install[0] ?? diagnostics[0];
    return { kind: "providers", providers: list, firstError: first ? first.detail || first.summary : result.output.trim().split("\n")[0]! };
  }
  const first = diagnostics[0];
  return {
    kind: "other",
    message: first ? `${first.summary}${first.detail ? `: ${first.detail}` : ""}` : result.output.trim().split("\n").slice(-3).join(" "),
  };
}

/**
 * Groups configuration errors that differ only in their line number, so 27 copies of one mistake
 * read as one line with a count and an example location.
 */
export function summarizeConfigErrors(diagnostics: readonly TerraformDiagnostic[], max = 6): string[] {
  const groups = new Map<string, { count: number; example: TerraformDiagnostic }>();
  for (const d of diagnostics) {
    const where = (d.location ?? "").replace(/ line \d+,/, ",").replace(/\.[A-Za-z0-9_-]+_[0-9A-F]{8}\b/g, ".*");
    const key = `${d.summary}|${where}`;
    const g = groups.get(key);
    if (g) g.count++;
    else groups.set(key, { count: 1, example: d });
  }
  const lines = [...groups.values()].map(
    ({ count, example }) =>
      `${example.summary}${count > 1 ? ` (x${count})` : ""}: ${example.location ?? "(no location)"}${example.detail ? ` — ${example.detail}` : ""}`,
  );
  return lines.length > max ? [...lines.slice(0, max), `... and ${lines.length - max} more kinds of error`] : lines;
}

/** The exact commands that give this machine the providers without network access at init. */
export function mirrorInstructions(providers: readonly RequiredProvider[]): string[] {
  const required = Object.fromEntries(providers.map((p) => [p.name, { source: p.source, version: p.version }]));
  const mainTfJson = JSON.stringify({ terraform: { required_providers: required } });
  return [
    "provide a filesystem mirror: on a machine that reaches registry.terraform.io run",
    `  mkdir -p /tmp/updateio-providers && echo '${mainTfJson}' > /tmp/updateio-providers/main.tf.json`,
    `  terraform -chdir=/tmp/updateio-providers providers mirror -platform=${platform()} /tmp/tf-mirror`,
    "copy /tmp/tf-mirror to this machine (e.g. /opt/tf-mirror), then",
    `  printf 'provider_installation {\\n  filesystem_mirror {\\n    path = "/opt/tf-mirror"\\n  }\\n}\\n' > ~/.terraform-mirror.tfrc`,
    "  TF_CLI_CONFIG_FILE=~/.terraform-mirror.tfrc npm run test:terraform",
    "(or copy the mirror's contents to ~/.terraform.d/plugins, an implied mirror that needs no CLI config)",
  ];
}

/** The environment variable Terraform reads an API token for `hostname` from (TF_TOKEN_app_terraform_io). */
export function tokenVariable(hostname: string): string {
  return `TF_TOKEN_${hostname.replace(/-/g, "__").replace(/\./g, "_")}`;
}

/** Whether credentials for a Terraform Cloud host are available (TF_TOKEN_* or `terraform login`'s file). */
export function hasCloudCredentials(hostname: string, env: NodeJS.ProcessEnv): { available: boolean; via?: string } {
  const variable = tokenVariable(hostname);
  if (env[variable]) return { available: true, via: variable };
  const file = path.join(os.homedir(), ".terraform.d", "credentials.tfrc.json");
  try {
    const creds = JSON.parse(readFileSync(file, "utf8")) as { credentials?: Record<string, { token?: string }> };
    if (creds.credentials?.[hostname]?.token) return { available: true, via: `${file} (terraform login)` };
  } catch {
    // no file or not JSON: no credentials from it
  }
  return { available: false };
}

/** `path` of every filesystem_mirror block (HCL or JSON CLI config). */
export function mirrorPaths(configText: string): string[] {
  const paths: string[] = [];
  for (const m of configText.matchAll(/filesystem_mirror/g)) {
    const block = configText.slice(m.index!, configText.indexOf("}", m.index!) + 1);
    const p = /"?path"?\s*[=:]\s*"([^"]+)"/.exec(block)?.[1];
    if (p) paths.push(expandHome(p));
  }
  return paths;
}

function expandHome(p: string): string {
  return p.startsWith("~/") ? path.join(os.homedir(), p.slice(2)) : p;
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
