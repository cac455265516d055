import { hasUrlCredentials, isSecretEnvName } from "../../contract/index";
import { block, blocks, isExpression } from "../json";
import type { PolicyRule } from "../types";
import { envEntries, onWorkload, WORKLOADS } from "./helpers";

const RANDOM_PASSWORD_REF = /\$\{[^}]*random_password\./;

export const noSecretLiteralEnv: PolicyRule = {
  id: "no-secret-literal-env",
  level: "error",
  title: "No secrets in environment variables (or registry passwords in the JSON)",
  why: "env vars show up in `docker inspect`, in crash dumps and in child processes, and literal ones also land in the synthesized JSON; a service's auth block is a registry login that Swarm sends to whatever registry the service's image names, so a variable's password goes wherever the image says",
  fix: "deliver the secret as a file (a seed-filled volume for containers, a docker_secret for services) and pass its path in a *_FILE variable; build connection URLs inside the service; Swarm services log in to their registry through the provider's registry_auth, never a service `auth` block.",
  appliesTo: WORKLOADS,
  check: onWorkload((w) => {
    const problems: string[] = [];
    const env = w.kind === "container" ? w.resource.env : w.spec.env;
    const entries = envEntries(env);
    if (entries === undefined && isExpression(env)) problems.push(`${w.name} has env built from an expression, which cannot be checked`);
    for (const { name, value } of entries ?? []) {
      const text = typeof value === "string" ? value : JSON.stringify(value);
      if (isExpression(name)) problems.push(`${w.name} has an env var whose name is an expression (${name})`);
      else if (isSecretEnvName(name)) problems.push(`${w.name} sets secret-looking env var ${name} directly`);
      else if (RANDOM_PASSWORD_REF.test(text)) problems.push(`${w.name} puts a random_password into env var ${name}`);
      else if (hasUrlCredentials(text)) problems.push(`${w.name} has credentials inside the URL in env var ${name}`);
    }
    if (w.kind === "service") {
      const password = block(w.resource.auth).password;
      if (typeof password === "string" && password !== "" && !isExpression(password))
        problems.push(`${w.name} writes a registry password into auth.password`);
      // The nodes send this login to whatever registry the image names, not to server_address.
      else if (blocks(w.resource.auth).some((a) => Object.keys(a).length > 0))
        problems.push(
          `${w.name} sets auth, a registry login the Swarm nodes send to the registry its image names (whichever that is): log in through the provider's registry_auth`,
        );
    }
    return problems;
  }),
};
