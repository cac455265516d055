import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { ValidationError } from "../contract/errors";
import { HardenedService } from "./hardened-service";
import { PlatformNetwork } from "./platform-network";
import type { ServiceImage } from "./service-image";

export interface DevPortForwardProps {
  readonly environment: string;
  /**
   * Name of the forwarder, lowercase with dashes (e.g. "api-inspector"): its container is
   * `<env>-<name>-1` and its own non-internal network `<env>-<name>`.
   */
  readonly name: string;
  /** A socat image (alpine/socat: entrypoint socat), pinned like every image; one may serve every forwarder. */
  readonly image: ServiceImage;
  /** What to forward to: a DNS name on an internal network, and its port. */
  readonly target: { readonly host: string; readonly port: number; readonly network: PlatformNetwork };
  /** Port published on 127.0.0.1 of the Docker host. */
  readonly hostPort: number;
  /** @default 32 */
  readonly memoryMb?: number;
  /** @default [] */
  readonly dependsOn?: readonly ITerraformDependable[];
}

const NAME = /^[a-z][a-z0-9-]{0,40}$/;
const HOST = /^[a-z][a-z0-9-]{0,62}$/;
const validPort = (p: number) => Number.isInteger(p) && p >= 1 && p <= 65535;
/** Unprivileged ports only: the forwarder runs as nobody with no capabilities. */
const LISTEN_MIN = 1024;

/**
 * Publishes one port of a service on 127.0.0.1 of the Docker host (dev's debugger, Postgres for
 * `prisma migrate dev`) without giving the service a route out: Docker publishes ports only from a
 * non-internal network, so socat sits on a network of its own that is not internal and on the
 * internal network it forwards to. The service keeps exactly the networks it has everywhere else.
 */
export class DevPortForward extends Construct {
  readonly service: HardenedService;
  /** The forwarder's own non-internal network (the only one that reaches the host's ports). */
  readonly network: PlatformNetwork;

  constructor(scope: Construct, id: string, props: DevPortForwardProps) {
    super(scope, id);
    const problems: string[] = [];
    if (!NAME.test(props.name))
      problems.push(`name: "${props.name}" must be lowercase letters, digits and dashes, starting with a letter (e.g. "api-inspector")`);
    if (!HOST.test(props.target.host))
      problems.push(`target.host: "${props.target.host}" must be a service's DNS name (lowercase letters, digits, dashes)`);
    if (!validPort(props.target.port) || props.target.port < LISTEN_MIN)
      problems.push(
        `target.port: ${props.target.port} must be a whole number from ${LISTEN_MIN} to 65535 (the forwarder listens on it unprivileged)`,
      );
    if (!validPort(props.hostPort)) problems.push(`hostPort: ${props.hostPort} must be a whole number from 1 to 65535`);
    if (!props.target.network.internal)
      problems.push(
        `target.network: ${props.target.network.purpose} is not internal; forward to a service on an internal network (one with a route out needs no forwarder)`,
      );
    if (problems.length > 0) throw new ValidationError(`DevPortForward ${this.node.path}`, problems);

    this.network = new PlatformNetwork(this, "network", { environment: props.environment, purpose: props.name, internal: false });
    const port = String(props.target.port);
    this.service = new HardenedService(this, "service", {
      environment: props.environment,
      service: props.name,
      component: "proxy",
      role: "dev-port-forward",
      image: props.image,
      entrypoint: ["socat"],
      // One child per connection; the target is resolved per connection, so a restarted service is found again.
      command: [`TCP-LISTEN:${port},fork,reuseaddr`, `TCP:${props.target.host}:${port}`],
      memoryMb: props.memoryMb ?? 32,
      cpuShares: 128,
      cpus: 0.25,
      processes: 32,
      ports: [{ internal: props.target.port, external: props.hostPort, ip: "127.0.0.1" }],
      networks: [{ network: this.network }, { network: props.target.network }],
      // Its own listener answers: a connection that reaches the target is not required (the app may be restarting).
      healthcheck: {
        test: ["CMD", "socat", "-u", "OPEN:/dev/null", `TCP:127.0.0.1:${port}`],
        // Short: apply waits for the first healthy check, which Docker runs one interval after start.
        interval: "10s",
        timeout: "5s",
        retries: 3,
        startPeriod: "5s",
      },
      dependsOn: props.dependsOn,
    });
  }
}
