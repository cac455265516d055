import { App, TerraformStack } from "cdktf";
import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import { Container } from "@cdktf/provider-docker/lib/container";
import type { Construct } from "constructs";
class S extends TerraformStack { constructor(s: Construct, id: string) { super(s, id); new DockerProvider(this, "docker", {}); new Container(this, "c", { name: "hello", image: "nginx:1.27" }); } }
const app = new App(); new S(app, "minimal"); app.synth();
