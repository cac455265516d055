import { blocks, isExpression, parseRef, referenced } from "../json";
import { isPinnedByDigest, plain } from "../normalize";
import type { PolicyRule } from "../types";
import { onWorkload, WORKLOADS } from "./helpers";

export const imageDigest: PolicyRule = {
  id: "image-digest",
  level: "error",
  title: "Images are pinned by digest (error in test and prod, warning in dev)",
  why: "a tag can be moved and an image that exists locally is never pulled again, so what runs is neither reproducible nor reviewable, and Swarm nodes may each run a different image",
  fix: 'pin the image as "repo:tag@sha256:<digest>" (the docker_image name for containers, container_spec.image for services); locally built images are for dev only.',
  appliesTo: WORKLOADS,
  check: onWorkload((w, ctx) => {
    const image = plain(w.image.value);
    if (typeof image !== "string" || image.trim() === "") return [`${w.name} has no image`];
    const ref = parseRef(image);
    if (ref && ref.type === "docker_image") {
      const img = referenced(ctx.stackJson, ref);
      if (!img) return [`${w.name} uses docker_image.${ref.name}, which is not in this stack`];
      if (blocks(img.build).length > 0) return [`${w.name} uses docker_image.${ref.name}, which is built locally from source (not pinned)`];
      const name = plain(img.name);
      if (typeof name !== "string" || isExpression(name))
        return [`${w.name} uses docker_image.${ref.name} whose name is not a literal and cannot be checked for a digest`];
      return isPinnedByDigest(name) ? [] : [`${w.name} uses image "${name}", which is not pinned by digest`];
    }
    if (isExpression(image)) return [`${w.name} has image ${image}, which cannot be checked for a digest`];
    return isPinnedByDigest(image) ? [] : [`${w.name} uses image "${image}", which is not pinned by digest`];
  }),
};
