const t: [string, number][] = [["start", performance.now()]];
const mark = (n: string) => t.push([n, performance.now()]);
require("cdktf"); mark("cdktf");
require("constructs"); mark("constructs");
require("@cdktf/provider-docker/lib/provider"); require("@cdktf/provider-docker/lib/container"); mark("docker container+provider");
require("@cdktf/provider-docker/lib/image"); require("@cdktf/provider-docker/lib/network"); require("@cdktf/provider-docker/lib/volume"); mark("docker image/net/vol");
require("@cdktf/provider-random/lib/provider"); require("@cdktf/provider-random/lib/password"); mark("random");
require("zod"); mark("zod");
const load = require("../../../environments/load"); mark("env/load (configs+schema)");
const es = require("../../../environments/environment-stack"); mark("environment-stack + constructs");
const cfgs = load.ENVIRONMENTS.map((n: string) => load.loadEnvironmentConfig(n)); mark("validate configs");
const { App } = require("cdktf");
const app = new App({ outdir: process.env.CDKTF_OUTDIR });
for (const c of cfgs) new es.EnvironmentStack(app, c.name, c); mark("construct");
app.synth(); mark("synth");
let p = 0; for (const [n, v] of t) { console.log(n.padEnd(34), v.toFixed(0).padStart(6), (v - p).toFixed(0).padStart(6)); p = v; }
console.log("maxRSS MB", (process.resourceUsage().maxRSS/1024).toFixed(0));
