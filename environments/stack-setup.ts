import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import { RandomProvider } from "@cdktf/provider-random/lib/provider";
import { Annotations, CloudBackend, LocalBackend, NamedCloudWorkspace, type TerraformStack } from "cdktf";
import { configWarnings } from "./schema";
import type { StackContext } from "./stack-context";
import { variableForPath, variableName } from "./variables";

/** The Docker and random providers and where the state lives, from the environment's config. */
export function addProvidersAndState(stack: TerraformStack, ctx: StackContext): void {
  const config = ctx.config;
  // Swarm services get no `auth` block (a change to it replaces the service): provider 3.6.2 passes
  // these credentials with each create and update of a service whose image is on this host.
  const registry = config.registry;
  new DockerProvider(stack, "docker", {
    host: config.dockerHost,
    ...(registry
      ? {
          registryAuth: [
            {
              address: registry.host,
              username: ctx.sensitiveVariable(
                "registry_username",
                `User that pulls the app images from ${registry.host}. Set TF_VAR_registry_username or the workspace variable.`,
              ),
              password: ctx.sensitiveVariable(
                "registry_password",
                `Read-only token (ghcr.io: a PAT with read:packages) for ${registry.host}. Set TF_VAR_registry_password or the workspace variable.`,
              ),
            },
          ],
        }
      : {}),
  });
  new RandomProvider(stack, "random");
  const state = config.state;
  // A local state path is relative to cdktf.out/stacks/<stack>/: it lands in <project>/state/, the same on every machine.
  if (state.backend === "local") new LocalBackend(stack, { path: `../../../${state.path}` });
  else
    new CloudBackend(stack, {
      hostname: state.hostname,
      organization: state.organization,
      workspaces: new NamedCloudWorkspace(state.workspace),
    });
}

/**
 * Synth warnings for values prod would refuse (plain-TCP Docker host, an allow-list for everyone, ...),
 * each naming the variable or file that sets it.
 */
export function addConfigWarnings(stack: TerraformStack, ctx: StackContext): void {
  const { config, env } = ctx;
  for (const [path, message] of configWarnings(config)) {
    const key = variableForPath(env, path);
    Annotations.of(stack).addWarning(`${path.join(".")}${key ? ` (${variableName(env, key)} or environments/${env}.ts)` : ""}: ${message}`);
  }
}

/** A synth warning while a release digest is still a placeholder (added last: it closes the stack's warnings). */
export function addReleaseWarnings(stack: TerraformStack, ctx: StackContext): void {
  const { config, env } = ctx;
  if (Object.values(config.services).some((svc) => svc.image.kind === "registry" && /@sha256:0{64}$/.test(svc.image.ref))) {
    Annotations.of(stack).addWarning(
      `environments/releases.json still holds placeholder digests (sha256:000...): deploys will fail to pull until the release pipeline writes real ones or UPDATEIO_${env.toUpperCase()}_<SERVICE>_IMAGE is set.`,
    );
  }
}
