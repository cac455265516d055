/** The dev pack: the baseline, with unpinned images only a warning (dev builds images from source, for hot reload). */
import { imageDigest } from "../rules/image-digest";
import { BASELINE } from "./baseline";
import { definePack } from "./pack";

export const DEV_PACK = definePack("dev", [...BASELINE, { rule: imageDigest, level: "warning" }]);
