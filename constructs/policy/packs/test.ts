/** The test pack: the baseline, and images pinned by digest (test runs what prod will run). */
import { imageDigest } from "../rules/image-digest";
import { BASELINE } from "./baseline";
import { definePack } from "./pack";

export const TEST_PACK = definePack("test", [...BASELINE, imageDigest]);
