import { describe } from "../json";
import type { PolicyRule } from "../types";

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

export const knownResourceTypes: PolicyRule = {
  id: "known-resource-types",
  level: "error",
  title: "Only resource and data source types the policy knows",
  why: "a docker_plugin runs with the privileges it asks for on the host, docker_buildx_builder/docker_registry_image/docker_tag build and push images outside review, and other providers' resources and data sources (null_resource, external, local_file ...) run or read anything",
  fix: `use only ${ALLOWED_RESOURCE_TYPES.join(", ")} (data sources: ${ALLOWED_DATA_SOURCES.join(", ")}); a new type needs rules first.`,
  appliesTo: "*",
  check(resource, _ctx, resourceType) {
    if (resourceType.startsWith("data.")) {
      const t = resourceType.slice("data.".length);
      return ALLOWED_DATA_SOURCES.includes(t)
        ? []
        : [`data source ${t}${typeof resource.name === "string" ? ` "${resource.name}"` : ""} is of a type the policy does not know`];
    }
    return ALLOWED_RESOURCE_TYPES.includes(resourceType)
      ? []
      : [`${describe(resource, resourceType)} is a resource of type ${resourceType}, which the policy does not know`];
  },
};
