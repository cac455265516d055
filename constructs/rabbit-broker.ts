import { Construct } from "constructs";
import { renderRabbitConf } from "./renderers/rabbitmq";
import type { Connectable, ServiceConnection } from "./kit/connection";
import { GeneratedSecret } from "./kit/generated-secret";
import { HardenedService } from "./kit/hardened-service";
import { PlatformNetwork } from "./kit/platform-network";
import { ServiceImage } from "./kit/service-image";
import { ServiceVolume } from "./kit/service-volume";

export interface RabbitBrokerProps {
  readonly environment: string;
  /** Official rabbitmq image reference (pinned; the -management variant ships the Prometheus plugin). */
  readonly image: string;
  readonly memoryMb: number;
  /** @default 512 */
  readonly cpuShares?: number;
  /** Virtual host of this environment. */
  readonly vhost: string;
  /** @default false */
  readonly protectData?: boolean;
  /** @default "info" */
  readonly logLevel?: string;
}

const PORT = 5672;
const USER = "updateio";

/** RabbitMQ on its own internal network; the management UI is never published. */
export class RabbitBroker extends Construct implements Connectable {
  readonly host = "rabbitmq";
  readonly port = PORT;
  readonly user = USER;
  readonly vhost: string;
  readonly network: PlatformNetwork;
  readonly service: HardenedService;
  readonly dataVolume: ServiceVolume;
  readonly password: GeneratedSecret;

  constructor(scope: Construct, id: string, props: RabbitBrokerProps) {
    super(scope, id);
    this.vhost = props.vhost;
    this.network = new PlatformNetwork(this, "network", { environment: props.environment, purpose: "rabbitmq" });
    this.dataVolume = new ServiceVolume(this, "data", { environment: props.environment, service: "rabbitmq", purpose: "data", protect: props.protectData ?? false });
    this.password = new GeneratedSecret(this, "password");

    this.service = new HardenedService(this, "server", {
      environment: props.environment,
      service: "rabbitmq",
      component: "data",
      image: new ServiceImage(this, "image", { ref: props.image }),
      user: "rabbitmq",
      memoryMb: props.memoryMb,
      cpuShares: props.cpuShares,
      // Node name must survive container replacement, or the node forgets its own data directory.
      env: { RABBITMQ_NODENAME: "rabbit@rabbitmq" },
      configDirs: [
        {
          path: "/etc/rabbitmq/conf.d",
          files: [{ name: "20-updateio.conf", content: renderRabbitConf({ memoryMb: props.memoryMb, vhost: props.vhost, user: USER, password: this.password.value, logLevel: props.logLevel }) }],
        },
      ],
      tmpfs: { "/var/log/rabbitmq": 16 },
      volumes: [{ volume: this.dataVolume, containerPath: "/var/lib/rabbitmq" }],
      networks: [{ network: this.network }],
      healthcheck: { test: ["CMD", "rabbitmq-diagnostics", "-q", "check_running"], interval: "30s", timeout: "20s", retries: 5, startPeriod: "1m0s" },
    });
  }

  connectionFor(): ServiceConnection {
    return {
      network: this.network,
      ready: this.service.containers,
      env: { AMQP_HOST: this.host, AMQP_PORT: String(this.port), AMQP_VHOST: this.vhost, AMQP_USER: this.user },
      secrets: [
        { name: "amqp_password", value: this.password.value, envVar: "AMQP_PASSWORD_FILE" },
        { name: "amqp_url", value: `amqp://${this.user}:${this.password.value}@${this.host}:${this.port}/${encodeURIComponent(this.vhost)}`, envVar: "AMQP_URL_FILE" },
      ],
    };
  }
}
