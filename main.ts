/**
 * The cdktf app: `npx tsx main.ts [stack...]` (cdktf.json runs it through scripts/run-app.cjs).
 * What it does, and how a stack is selected, is in environments/synth-app.ts.
 */
import { synthApp } from "./environments/synth-app";

void synthApp(process.argv.slice(2), process.env).then((code) => {
  process.exitCode = code;
});
