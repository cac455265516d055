/**
 * The rules every environment runs at their own level: what makes a workload safe to run at all.
 * The environment packs add what differs between them (image pinning, protected volumes).
 */
import { RULES } from "../rules";
import { imageDigest } from "../rules/image-digest";
import { prodVolumeProtected } from "../rules/prod-volume-protected";
import type { PolicyRule } from "../types";

/** Rules whose use differs per environment: each pack adds them itself. */
const PER_ENVIRONMENT: readonly PolicyRule[] = [imageDigest, prodVolumeProtected];

/** Every other rule of the catalogue, in its order (rules/index.ts groups and explains them). */
export const BASELINE: readonly PolicyRule[] = RULES.filter((r) => !PER_ENVIRONMENT.includes(r));
