import { Construct } from "constructs";
import { renderRedisAcl, renderRedisConf } from "./renderers/redis";
import type { Connectable, ServiceConnection } from "./kit/connection";
import { GeneratedSecret } from "./kit/generated-secret";
import { HardenedService } from "./kit/hardened-service";
import { PlatformNetwork } from "./kit/platform-network";
import { SECURE_DEFAULTS } from "./kit/secure-defaults";
import { ServiceImage } from "./kit/service-image";
import { ServiceVolume } from "./kit/service-volume";

export interface RedisCacheProps {
  readonly environment: string;
  /** Official redis image reference (pinned). */
  readonly image: string;
  /** Memory limit in MiB; maxmemory is 75% of it. */
  readonly memoryMb: number;
  /** @default 512 */
  readonly cpuShares?: number;
  /** @default false */
  readonly protectData?: boolean;
}

const PORT = 6379;
const APP_USER = "updateio";

/** Redis with ACL users (default user off), AOF persistence and a memory cap. */
export class RedisCache extends Construct implements Connectable {
  readonly host = "redis";
  readonly port = PORT;
  readonly appUser = APP_USER;
  readonly network: PlatformNetwork;
  readonly service: HardenedService;
  readonly dataVolume: ServiceVolume;
  readonly appPassword: GeneratedSecret;

  constructor(scope: Construct, id: string, props: RedisCacheProps) {
    super(scope, id);
    this.network = new PlatformNetwork(this, "network", { environment: props.environment, purpose: "redis" });
    this.dataVolume = new ServiceVolume(this, "data", { environment: props.environment, service: "redis", purpose: "data", protect: props.protectData ?? false });
    this.appPassword = new GeneratedSecret(this, "app-password");
    const healthPassword = new GeneratedSecret(this, "healthcheck-password");
    const aclFile = `${SECURE_DEFAULTS.secretsDir}/users_acl`;

    this.service = new HardenedService(this, "server", {
      environment: props.environment,
      service: "redis",
      component: "data",
      image: new ServiceImage(this, "image", { ref: props.image }),
      user: "redis",
      memoryMb: props.memoryMb,
      cpuShares: props.cpuShares,
      command: ["redis-server", "/usr/local/etc/redis/redis.conf"],
      secrets: [
        { name: "users_acl", value: renderRedisAcl({ appUser: APP_USER, appPassword: this.appPassword.value, healthPassword: healthPassword.value }) },
        { name: "redis_healthcheck_password", value: healthPassword.value },
      ],
      configDirs: [{ path: "/usr/local/etc/redis", files: [{ name: "redis.conf", content: renderRedisConf({ memoryMb: props.memoryMb, aclFile, port: PORT }) }] }],
      volumes: [{ volume: this.dataVolume, containerPath: "/data" }],
      networks: [{ network: this.network }],
      healthcheck: {
        test: ["CMD-SHELL", `redis-cli --no-auth-warning --user healthcheck --pass "$(cat ${SECURE_DEFAULTS.secretsDir}/redis_healthcheck_password)" ping | grep -q PONG`],
        interval: "10s",
        timeout: "3s",
        retries: 5,
        startPeriod: "10s",
      },
    });
  }

  connectionFor(): ServiceConnection {
    return {
      network: this.network,
      ready: this.service.containers,
      env: { REDIS_HOST: this.host, REDIS_PORT: String(this.port), REDIS_USER: this.appUser },
      secrets: [
        { name: "redis_password", value: this.appPassword.value, envVar: "REDIS_PASSWORD_FILE" },
        { name: "redis_url", value: `redis://${this.appUser}:${this.appPassword.value}@${this.host}:${this.port}/0`, envVar: "REDIS_URL_FILE" },
      ],
    };
  }
}
