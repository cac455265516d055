/** The service the kit's tests build a HardenedService from: its image and the least props a spec needs. */
import type { HardenedServiceProps } from "../../constructs/kit/hardened-service";
import type { PlatformNetwork } from "../../constructs/kit/platform-network";
import type { ServiceImage } from "../../constructs/kit/service-image";

/** The kit tests' worker image, pinned by digest. */
export const WORKER_IMAGE = `registry.example/worker:1.2.3@sha256:${"ab".repeat(32)}`;

export interface ServiceBase {
  readonly environment: string;
  readonly service: string;
  readonly image: ServiceImage;
  /** The one network it joins. */
  readonly network: PlatformNetwork;
}

/** An app component of 256 MiB on one network whose healthcheck is `true`; `overrides` win. */
export function serviceProps(base: ServiceBase, overrides: Partial<HardenedServiceProps> = {}): HardenedServiceProps {
  return {
    environment: base.environment,
    service: base.service,
    component: "app",
    image: base.image,
    memoryMb: 256,
    networks: [{ network: base.network }],
    healthcheck: { test: ["CMD", "true"] },
    ...overrides,
  };
}
