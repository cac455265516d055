import { isMetaKey } from "../expressions";
import { blockKeyProblems, blockLabels, blocks, describe, isRecord } from "../json";
import type { PolicyRule, TerraformJson } from "../types";

/** What this platform's stacks are made of; anything else is outside what the policy understands. */
export const ALLOWED_RESOURCE_TYPES = [
  "docker_container",
  "docker_image",
  "docker_network",
  "docker_volume",
  "docker_service",
  "docker_secret",
  "docker_config",
  "random_password",
  "random_id",
  "random_string",
  "random_integer",
  "random_uuid",
];

export const ALLOWED_DATA_SOURCES = ["docker_network", "docker_image", "docker_registry_image", "docker_registry_image_manifests"];

/**
 * What a data source may set besides meta-arguments: the name it looks up. The registry ones also
 * take insecure_skip_verify, which sends the provider's registry login for that address over TLS
 * that is not verified (anyone on the path reads it), and auth_config, a login written into the
 * JSON and sent to an address of its choosing; an id is never needed.
 */
const ALLOWED_DATA_SOURCE_KEYS: readonly string[] = ["name"];

/**
 * The top-level keys a stack may have ("//" is cdktf's metadata). Anything else is refused, not only
 * what is known to be dangerous: `module` runs configuration the policy never sees, `check` may
 * hold scoped data sources Terraform reads at plan time, `import`/`moved`/`removed` change what
 * Terraform manages outside the resources checked here.
 */
export const ALLOWED_STACK_KEYS = ["//", "terraform", "provider", "resource", "data", "variable", "locals", "output"];

/**
 * The providers the stacks configure, and what each block may set: a provider runs on the machine
 * that applies, so a key such as the docker provider's `ssh_opts` (options handed to ssh, a
 * ProxyCommand included), `cert_path` or `registry_auth.config_file` (host files read at apply)
 * is refused, and so is a provider the stacks do not use.
 */
export const ALLOWED_PROVIDER_KEYS: Readonly<Record<string, readonly string[]>> = {
  docker: ["host", "registry_auth", "alias"],
  random: ["alias"],
};
const ALLOWED_REGISTRY_AUTH_KEYS = ["address", "username", "password"];
/** Where each provider comes from: a different source would run another binary under the same name. */
export const PROVIDER_SOURCES: Readonly<Record<string, string>> = { docker: "kreuzwerker/docker", random: "hashicorp/random" };
/** The engine addresses the docker provider may use (a literal, no expression). */
const DOCKER_HOST = /^(unix|tcp|ssh):\/\/[A-Za-z0-9_.:@\/\[\]-]+$/;
const ALLOWED_TERRAFORM_KEYS = ["backend", "cloud", "required_providers", "required_version"];
/** An exact version: a range would let `terraform init` pick a provider nobody reviewed. */
const EXACT_VERSION = /^\d+\.\d+\.\d+$/;

export interface StackProblem {
  /** The top-level key, or "resource.<type>"/"data.<type>" for a block of the wrong shape. */
  readonly type: string;
  /** The block's label when there is one ("" otherwise). */
  readonly name: string;
  readonly problem: string;
}

/**
 * What the stack's JSON holds outside the resources and data sources the rules check one by one:
 * top-level keys outside ALLOWED_STACK_KEYS, and `resource`/`data` written in a shape other than
 * type → name → body objects (HCL's JSON syntax also accepts arrays of objects at each level, which
 * the per-resource rules would read at the wrong level). Run once per stack by the aspect.
 */
export function stackProblems(stackJson: TerraformJson): StackProblem[] {
  const out: StackProblem[] = [];
  const json = stackJson as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(json)) {
    if (!ALLOWED_STACK_KEYS.includes(key)) {
      const labels = blockLabels(value);
      for (const name of labels.length > 0 ? labels : [""])
        out.push({
          type: key,
          name,
          problem: `the stack has a top-level "${key}" block${name ? ` ${key}.${name}` : ""}, which this project does not use and the policy does not check`,
        });
      continue;
    }
    if (key === "provider") {
      out.push(...providerProblems(value));
      continue;
    }
    if (key === "terraform") {
      out.push(...terraformProblems(value));
      continue;
    }
    if (key !== "resource" && key !== "data") continue;
    if (!isRecord(value)) {
      out.push({
        type: key,
        name: "",
        problem: `the stack's "${key}" is ${Array.isArray(value) ? "a JSON array" : "not an object"}: write it as an object of types`,
      });
      continue;
    }
    for (const [type, byName] of Object.entries(value)) {
      const where = `${key}.${type}`;
      if (!isRecord(byName)) {
        out.push({
          type: where,
          name: "",
          problem: `${where} is ${Array.isArray(byName) ? "a JSON array" : "not an object"}: write it as an object of names`,
        });
        continue;
      }
      for (const [name, body] of Object.entries(byName)) {
        if (!isRecord(body))
          out.push({
            type: where,
            name,
            problem: `${where}.${name} is ${Array.isArray(body) ? "a JSON array" : "not an object"}: write its body as one object`,
          });
      }
    }
  }
  return out;
}

/** Provider blocks: only ALLOWED_PROVIDER_KEYS' providers and keys, a literal engine address, registry logins without files. */
function providerProblems(value: unknown): StackProblem[] {
  const out: StackProblem[] = [];
  const add = (type: string, problem: string) => out.push({ type, name: "", problem });
  if (!isRecord(value)) return [{ type: "provider", name: "", problem: 'the stack\'s "provider" is not an object of providers' }];
  for (const [provider, config] of Object.entries(value)) {
    const type = `provider.${provider}`;
    const allowed = Object.hasOwn(ALLOWED_PROVIDER_KEYS, provider) ? ALLOWED_PROVIDER_KEYS[provider]! : undefined;
    if (allowed === undefined) {
      add(type, `the stack configures the provider "${provider}", which this project does not use`);
      continue;
    }
    for (const p of blockKeyProblems(config, type, allowed))
      add(
        type,
        p.key === undefined
          ? `${p.path} is not an object`
          : `${p.path} sets ${p.key}, which the policy does not allow (only ${allowed.join(", ")})`,
      );
    for (const block of blocks(config)) {
      if (provider === "docker" && block.host !== undefined && !(typeof block.host === "string" && DOCKER_HOST.test(block.host)))
        add(type, `${type}.host is ${JSON.stringify(block.host)}: expected a literal unix://, tcp:// or ssh:// address`);
      for (const p of blockKeyProblems(block.registry_auth, `${type}.registry_auth`, ALLOWED_REGISTRY_AUTH_KEYS))
        add(
          type,
          `${p.path} sets ${p.key ?? "something that is not an object"}: a registry login is an address, a username and a password, never a file on the host`,
        );
    }
  }
  return out;
}

/** The terraform block: known keys only, and required_providers exactly PROVIDER_SOURCES at exact versions. */
function terraformProblems(value: unknown): StackProblem[] {
  const out: StackProblem[] = [];
  const add = (problem: string) => out.push({ type: "terraform", name: "", problem });
  if (!isRecord(value)) return [{ type: "terraform", name: "", problem: 'the stack\'s "terraform" block is not an object' }];
  for (const k of Object.keys(value))
    if (!ALLOWED_TERRAFORM_KEYS.includes(k))
      add(`terraform.${k} is set, which the policy does not allow (only ${ALLOWED_TERRAFORM_KEYS.join(", ")})`);
  const required = isRecord(value.required_providers) ? value.required_providers : {};
  for (const [name, spec] of Object.entries(required)) {
    const source = Object.hasOwn(PROVIDER_SOURCES, name) ? PROVIDER_SOURCES[name] : undefined;
    if (source === undefined) {
      add(`terraform.required_providers.${name} is a provider this project does not use`);
      continue;
    }
    const s = isRecord(spec) ? spec : {};
    if (s.source !== source)
      add(
        `terraform.required_providers.${name}.source is ${JSON.stringify(s.source)}: it must be "${source}" (another source runs another binary)`,
      );
    if (!(typeof s.version === "string" && EXACT_VERSION.test(s.version)))
      add(`terraform.required_providers.${name}.version is ${JSON.stringify(s.version)}: pin an exact version such as "1.2.3"`);
  }
  return out;
}

export const knownResourceTypes: PolicyRule = {
  id: "known-resource-types",
  level: "error",
  title: "Only resource and data source types the policy knows",
  why: "a docker_plugin runs with the privileges it asks for on the host, docker_buildx_builder/docker_registry_image/docker_tag build and push images outside review, other providers' resources and data sources (null_resource, external, local_file ...) run or read anything, and a data source's insecure_skip_verify or auth_config sends a registry login where anyone on the path can read it, top-level blocks other than resources and data sources (a module, a check with its own data sources, import/moved/removed) bring in configuration no rule sees; a provider runs on the machine that applies, so its settings (ssh_opts, cert_path, a registry config file) and its source are part of what is checked",
  fix: `use only ${ALLOWED_RESOURCE_TYPES.join(", ")} (data sources: ${ALLOWED_DATA_SOURCES.join(", ")}, setting only ${ALLOWED_DATA_SOURCE_KEYS.join(", ")}), and at the top of the stack only ${ALLOWED_STACK_KEYS.filter((k) => k !== "//").join(", ")}, with resources and data sources written as objects (type, then name, then body); write a module's resources in the stack instead; configure only the docker provider (host, registry_auth with address, username and password) and random, from ${Object.values(PROVIDER_SOURCES).join(" and ")} at exact versions; a new type, block or provider setting needs rules first.`,
  appliesTo: "*",
  check(resource, _ctx, resourceType) {
    if (resourceType.startsWith("data.")) {
      const t = resourceType.slice("data.".length);
      const what = `data source ${t}${typeof resource.name === "string" ? ` "${resource.name}"` : ""}`;
      if (!ALLOWED_DATA_SOURCES.includes(t)) return [`${what} is of a type the policy does not know`];
      return Object.keys(resource)
        .filter((k) => !isMetaKey(k) && !ALLOWED_DATA_SOURCE_KEYS.includes(k))
        .map((k) => `${what} sets ${k}, which the policy does not allow on a data source (only ${ALLOWED_DATA_SOURCE_KEYS.join(", ")})`);
    }
    return ALLOWED_RESOURCE_TYPES.includes(resourceType)
      ? []
      : [`${describe(resource, resourceType)} is a resource of type ${resourceType}, which the policy does not know`];
  },
};
