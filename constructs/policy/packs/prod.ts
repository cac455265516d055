/** The prod pack: the baseline, images pinned by digest, and volumes protected against destroy (they hold the data). */
import { imageDigest } from "../rules/image-digest";
import { prodVolumeProtected } from "../rules/prod-volume-protected";
import { BASELINE } from "./baseline";
import { definePack } from "./pack";

export const PROD_PACK = definePack("prod", [...BASELINE, imageDigest, prodVolumeProtected]);
