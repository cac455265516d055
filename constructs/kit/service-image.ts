import { Image } from "@cdktf/provider-docker/lib/image";
import { Fn, ref, Token } from "cdktf";
import { Construct } from "constructs";
import { isPinnedByDigest, ValidationError } from "../contract/index";

export interface ServiceImageProps {
  /** Registry reference, e.g. "postgres:17.6-bookworm@sha256:..." (exclusive with build). */
  readonly ref?: string;
  /** Build locally from source (dev). Paths are absolute, or relative to the project root. */
  readonly build?: {
    readonly context: string;
    /** Relative to the context. @default "Dockerfile" */
    readonly dockerfile?: string;
    /** Local tag for the built image, e.g. "updateio-dev/api:dev". */
    readonly tag: string;
    /** The Dockerfile stage to build, e.g. "dev". @default the last stage */
    readonly target?: string;
    /**
     * The buildx builder. "default" is the engine's own BuildKit (docker driver), which every
     * Docker install has; without a builder provider 3.6.2 uses the legacy builder, which has no
     * `RUN --mount` and no heredocs.
     * @default "default"
     */
    readonly builder?: string;
  };
  /**
   * Pull the image onto the Docker host the provider talks to (a docker_image resource). Swarm
   * services need no such pull: every node pulls the pinned reference itself.
   * @default true
   */
  readonly pull?: boolean;
}

/** Characters a path may hold here: none of them can open a Terraform template (`${`, `%{`), end a string (`"`) or escape (`\`). */
const SAFE_PATH = /^[A-Za-z0-9._@+/-]+$/;
/** A Dockerfile stage or buildx builder name (Docker's own rule for stage names, which builder names fit too). */
export const BUILD_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,62}$/;
/** The buildx builder of the engine itself (docker driver): present wherever Docker is. */
export const DEFAULT_BUILDER = "default";

/**
 * A host path for Terraform. An absolute path is written as a plain literal (no expression, nothing
 * for Terraform to evaluate). A relative one is relative to the project root: Terraform runs in
 * cdktf.out/stacks/<stack>/, three levels below it, and abspath() resolves from there at plan time,
 * so synth output is the same on every machine. Either way the path sits in a string literal, so
 * anything outside SAFE_PATH is refused rather than escaped: cdktf does not escape strings passed
 * to its built-in functions.
 */
export function projectPath(path: string): string {
  if (!SAFE_PATH.test(path)) {
    throw new ValidationError("projectPath input", [
      `${JSON.stringify(path)} may hold letters, digits and . _ - + @ / only; a path is never written into a Terraform expression with other characters`,
    ]);
  }
  if (path.startsWith("/")) return path;
  // join() rather than a "${...}" template: cdktf mis-escapes templates nested in function calls.
  return Fn.abspath(Fn.join("/", [Token.asString(ref("path.root")), "../../..", path]));
}

/** One image a service runs: pulled by reference or built from local source. */
export class ServiceImage extends Construct {
  /** Image ID for containers (changes when the image really changes, which replaces them); only with pull. */
  readonly imageId: string;
  /** The reference as written (for reviews and labels). */
  readonly ref: string;
  /** Pinned by digest: the only way a pull really updates (docs/architecture.md). */
  readonly pinned: boolean;
  readonly built: boolean;
  /** The docker_image resource (absent when pull is false). */
  readonly resource?: Image;

  constructor(scope: Construct, id: string, props: ServiceImageProps) {
    super(scope, id);
    if ((props.ref === undefined) === (props.build === undefined)) {
      throw new ValidationError(`ServiceImage ${this.node.path}`, [`set exactly one of ref (registry image) or build (local source)`]);
    }
    if (props.build) {
      const { context, tag, target } = props.build;
      const dockerfile = props.build.dockerfile ?? "Dockerfile";
      const builder = props.build.builder ?? DEFAULT_BUILDER;
      const bad = [
        ...(target !== undefined && !BUILD_NAME.test(target)
          ? [`build.target: ${JSON.stringify(target)} must be a stage name such as "dev"`]
          : []),
        ...(!BUILD_NAME.test(builder) ? [`build.builder: ${JSON.stringify(builder)} must be a buildx builder name such as "default"`] : []),
      ];
      if (bad.length > 0) throw new ValidationError(`ServiceImage ${this.node.path}`, bad);
      // Both paths as the provider's documentation says: relative to Terraform's working directory,
      // not to the context (a bare "Dockerfile" is looked up in cdktf.out/stacks/<env>/).
      const dockerfilePath = projectPath(`${context}/${dockerfile}`);
      this.ref = tag;
      this.pinned = false;
      this.built = true;
      this.resource = new Image(this, "image", {
        name: tag,
        keepLocally: true,
        buildAttribute: {
          builder,
          context: projectPath(context),
          dockerfile: dockerfilePath,
          tag: [tag],
          ...(target !== undefined ? { target } : {}),
        },
        // Rebuild when the Dockerfile changes; source changes reach the container by bind mount.
        triggers: { dockerfile: Fn.filesha256(dockerfilePath) },
      });
    } else {
      this.ref = props.ref!;
      this.pinned = isPinnedByDigest(this.ref);
      this.built = false;
      // keep_locally: other environments on the same host may still run this image.
      if (props.pull ?? true) this.resource = new Image(this, "image", { name: this.ref, keepLocally: true });
    }
    if (props.build && props.pull === false)
      throw new ValidationError(`ServiceImage ${this.node.path}`, [
        `a locally built image exists only on this host; pull: false needs a registry ref`,
      ]);
    // Only a container can use the local image ID; a Swarm service takes `ref`.
    this.imageId = this.resource?.imageId ?? this.ref;
  }
}
