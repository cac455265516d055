/**
 * The unit tier renders stacks the way main.ts does: on the fast resolve path (environments/fast-resolve.ts,
 * installed by prepareSynthProcess), which roughly halves the time of every Testing.synth. The
 * integration tier runs on cdktf's resolve alone, and fast-resolve.integration.test.ts requires both
 * to render every environment to the same text.
 */
import { installFastResolve } from "../environments/fast-resolve";

installFastResolve();
