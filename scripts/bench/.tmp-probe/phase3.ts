const cp = require("child_process");
for (const k of ["execSync", "spawnSync", "execFileSync"]) { const o = cp[k]; cp[k] = function (...args: any[]) { const a = performance.now(); try { return o.apply(this, args); } finally { console.log(k, String(args[0]).slice(0, 80), (performance.now() - a).toFixed(0), "ms"); } }; }
const load = require("../../../environments/load");
const es = require("../../../environments/environment-stack");
const cdktf = require("cdktf");
const cfgs = load.ENVIRONMENTS.map((n: string) => load.loadEnvironmentConfig(n));
const app = new cdktf.App({ outdir: process.env.CDKTF_OUTDIR });
for (const c of cfgs) new es.EnvironmentStack(app, c.name, c);
let a = performance.now(); app.synth(); console.log("synth", performance.now() - a);
