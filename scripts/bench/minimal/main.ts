/**
 * The minimal app of `npm run bench` (scripts/bench.ts): the smallest useful cdktf app, with the
 * provider our stacks use, run with the same app command as ours so the ratio prices our own code.
 */
import { Container } from "@cdktf/provider-docker/lib/container";
import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import { App, TerraformStack } from "cdktf";
import type { Construct } from "constructs";

class MinimalStack extends TerraformStack {
  constructor(scope: Construct, id: string) {
    super(scope, id);
    new DockerProvider(this, "docker", {});
    new Container(this, "hello", { name: "hello", image: "nginx:1.27" });
  }
}

const app = new App();
new MinimalStack(app, "minimal");
app.synth();
