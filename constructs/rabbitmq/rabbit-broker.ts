import { Lazy } from "cdktf";
import { Construct } from "constructs";
import { renderCookieEntrypoint, renderEnabledPlugins, renderRabbitConf } from "./renderers/rabbitmq";
import {
  appPermissions,
  DEFAULT_TOPOLOGY,
  renderRabbitDefinitions,
  topologyProblems,
  type RabbitApp,
  type RabbitTopology,
} from "./renderers/rabbitmq-definitions";
import { renderRabbitExpectedPermissions, renderRabbitUserDefinitions, renderRabbitUsersScript } from "./renderers/rabbitmq-users";
import type { Connectable, ServiceConnection } from "../kit/connection";
import { escapeTemplateText } from "../kit/container-runtime";
import { ConfigReloadJob } from "../kit/config-reload-job";
import { GeneratedSecret } from "../kit/generated-secret";
import { HardenedService } from "../kit/hardened-service";
import { PlatformNetwork } from "../kit/platform-network";
import { SECURE_DEFAULTS } from "../kit/secure-defaults";
import { ServiceImage } from "../kit/service-image";
import { ServiceVolume } from "../kit/service-volume";
import { ValidationError } from "../contract/errors";

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
  /**
   * App services known up front, each added as by addApp (its own user with least-privilege
   * permissions, see appPermissions). Apps can also be added later with addApp.
   * @default [] (DEFAULT_APPS lists UpdateIO's)
   */
  readonly apps?: readonly RabbitApp[];
  /**
   * Exchanges and quorum queues (each with a dead-letter queue) declared at boot from the definitions file.
   * @default DEFAULT_TOPOLOGY (updateio.events, updateio.commands; notifications.telegram, notifications.discord, updates.fetch)
   */
  readonly topology?: RabbitTopology;
  /**
   * Nodes: 1, or an odd number ≥ 3 forming a cluster by static peer discovery (classic_config).
   * Each node is its own container (rabbitmq-1 ... rabbitmq-N) with its own data volume; all
   * answer to the "rabbitmq" alias.
   * @default 1
   */
  readonly clusterSize?: number;
  /**
   * An internal network every node also joins, shared with Prometheus only, which scrapes the
   * nodes' Prometheus plugin there instead of joining the network the app services use.
   * @default undefined (scraped on the rabbitmq network)
   */
  readonly metricsNetwork?: PlatformNetwork;
}

const PORT = 5672;
/** The legacy all-access user of the vhost: no app may take its name (the config check refuses such a service). */
export const RABBIT_LEGACY_USER = "updateio";
const USER = RABBIT_LEGACY_USER;
const DEFINITIONS_SECRET = "rabbitmq_definitions";
const COOKIE_SECRET = "erlang_cookie";
const USERS_SECRET = "rabbitmq_users";
const USERS_DIR = "/etc/rabbitmq-users";
/** rabbitmqctl's HOME in the users job (its Erlang cookie): a tmpfs, as in RabbitBackup. */
const CLI_HOME = "/run/rabbitmq-cli";
const CONF_DIR = "/etc/rabbitmq/conf.d";
// RabbitMQ parses every file in conf.d as rabbitmq.conf (checked on a real broker), so the plugins file lives apart.
const PLUGINS_DIR = "/etc/rabbitmq/plugins";

/** What addApp returns: the app's connection (network, AMQP_* settings, its password and URL as files) and its user. */
export interface RabbitAppConnection extends ServiceConnection {
  /** The app's RabbitMQ user (its name). */
  readonly user: string;
  readonly passwordSecret: GeneratedSecret;
}

/**
 * RabbitMQ on its own internal network; the management UI is never published. Each node imports
 * the boot definitions (vhost, topology, the legacy user) at every start. Apps get their own users
 * through addApp; those live apart, in the `<env>-rabbitmq-users` job's secret file (rendered at
 * synth, so apps may be added after the broker is constructed), which the job imports into the
 * running cluster: adding an app or rotating its password re-runs the job and replaces no node.
 */
export class RabbitBroker extends Construct implements Connectable {
  readonly host = "rabbitmq";
  readonly port = PORT;
  /** The legacy all-access user of the vhost, returned by connectionFor() without a role. */
  readonly user = USER;
  readonly vhost: string;
  readonly network: PlatformNetwork;
  /** Where Prometheus scrapes the nodes, when given. */
  readonly metricsNetwork?: PlatformNetwork;
  /** The first (or only) node. */
  readonly service: HardenedService;
  /** Every node, in order (one unless clusterSize > 1). */
  readonly nodes: readonly HardenedService[];
  /** DNS name of each node (its Prometheus plugin listens on metricsPort there). */
  readonly nodeHosts: readonly string[];
  /** rabbitmq_prometheus' port (never published; scraped over the rabbitmq network). */
  readonly metricsPort = 15692;
  /** The first (or only) node's data volume. */
  readonly dataVolume: ServiceVolume;
  readonly dataVolumes: readonly ServiceVolume[];
  /** Password of the legacy user (connectionFor() without a role). */
  readonly password: GeneratedSecret;
  /** Shared by every node and the CLI tools; installed by the entrypoint wrapper. */
  readonly erlangCookie: GeneratedSecret;
  readonly topology: RabbitTopology;
  /**
   * Imports the app users into the running cluster, deletes removed ones and checks the result
   * (role config-reload): re-run whenever an app is added or removed or a password rotates.
   */
  readonly usersJob: HardenedService;
  /** The apps added so far (props.apps, then addApp), in order. */
  private readonly appList: { readonly app: RabbitApp; readonly password: GeneratedSecret }[] = [];

  constructor(scope: Construct, id: string, props: RabbitBrokerProps) {
    super(scope, id);
    this.vhost = props.vhost;
    this.topology = props.topology ?? DEFAULT_TOPOLOGY;
    const clusterSize = props.clusterSize ?? 1;
    const problems = topologyProblems(this.topology, props.apps ?? []);
    if (!Number.isInteger(clusterSize) || clusterSize < 1 || (clusterSize > 1 && clusterSize % 2 === 0)) {
      problems.push(`clusterSize: ${clusterSize} must be 1 or an odd whole number ≥ 3 (quorum queues need a majority)`);
    }
    if ((props.apps ?? []).some((a) => a.name === USER)) problems.push(`apps: "${USER}" is the legacy user's name; pick another app name`);
    if (problems.length > 0) throw new ValidationError(`RabbitBroker ${this.node.path}`, problems);

    this.network = new PlatformNetwork(this, "network", { environment: props.environment, purpose: "rabbitmq" });
    this.metricsNetwork = props.metricsNetwork;
    this.password = new GeneratedSecret(this, "password");
    this.erlangCookie = new GeneratedSecret(this, "erlang-cookie", { length: 64 });
    // Only what rarely changes: app users are in the users job's file, so an app added or a password
    // rotated replaces no node (a changed boot file would replace every node at once).
    const definitions = escapeTemplateText(
      renderRabbitDefinitions({
        vhost: props.vhost,
        users: [
          // Today's user, kept so connectionFor() without a role behaves as before.
          { name: USER, password: this.password.value, tags: ["management"], permissions: { configure: ".*", write: ".*", read: ".*" } },
        ],
        topology: this.topology,
      }),
    );
    const image = new ServiceImage(this, "image", { ref: props.image });
    const nodeNames = Array.from({ length: clusterSize }, (_, i) => (clusterSize === 1 ? this.host : `${this.host}-${i + 1}`));
    this.nodeHosts = nodeNames;
    const conf = renderRabbitConf({
      memoryMb: props.memoryMb,
      vhost: props.vhost,
      logLevel: props.logLevel,
      definitionsFile: `${SECURE_DEFAULTS.secretsDir}/${DEFINITIONS_SECRET}`,
      clusterNodes: clusterSize > 1 ? nodeNames.map((n) => `rabbit@${n}`) : [],
    });

    const nodes: HardenedService[] = [];
    const volumes: ServiceVolume[] = [];
    nodeNames.forEach((name, i) => {
      const single = clusterSize === 1;
      const volume = new ServiceVolume(this, single ? "data" : `data-${i + 1}`, {
        environment: props.environment,
        service: name,
        purpose: "data",
        protect: props.protectData ?? false,
      });
      volumes.push(volume);
      nodes.push(
        new HardenedService(this, single ? "server" : `server-${i + 1}`, {
          environment: props.environment,
          service: name,
          component: "data",
          image,
          user: "rabbitmq",
          memoryMb: props.memoryMb,
          cpuShares: props.cpuShares,
          // The wrapper installs the Erlang cookie (see renderCookieEntrypoint), then runs the image's entrypoint.
          entrypoint: ["/bin/sh", "-c", renderCookieEntrypoint(`${SECURE_DEFAULTS.secretsDir}/${COOKIE_SECRET}`), "rabbitmq-entrypoint"],
          command: ["rabbitmq-server"],
          env: {
            // Node name must survive container replacement, or the node forgets its own data directory.
            RABBITMQ_NODENAME: `rabbit@${name}`,
            RABBITMQ_ENABLED_PLUGINS_FILE: `${PLUGINS_DIR}/enabled_plugins`,
          },
          secrets: [
            // Carries the legacy user's password (hashed by RabbitMQ on import), so it is a secret, not config.
            { name: DEFINITIONS_SECRET, value: definitions },
            { name: COOKIE_SECRET, value: this.erlangCookie.value },
          ],
          configDirs: [
            { path: CONF_DIR, files: [{ name: "20-updateio.conf", content: conf }] },
            { path: PLUGINS_DIR, files: [{ name: "enabled_plugins", content: renderEnabledPlugins() }] },
          ],
          tmpfs: { "/var/log/rabbitmq": 16 },
          volumes: [{ volume, containerPath: "/var/lib/rabbitmq" }],
          networks: [
            { network: this.network, aliases: single ? [] : [this.host] },
            ...(props.metricsNetwork ? [{ network: props.metricsNetwork }] : []),
          ],
          healthcheck: {
            test: ["CMD", "rabbitmq-diagnostics", "-q", "check_running"],
            interval: "30s",
            timeout: "20s",
            retries: 5,
            startPeriod: "1m0s",
          },
        }),
      );
    });
    this.nodes = nodes;
    this.service = nodes[0]!;
    this.dataVolumes = volumes;
    this.dataVolume = volumes[0]!;

    // Rendered at synth (Lazy): apps added after this constructor get their users too. Its own files
    // change with the app users, which replaces the job's seed and, through the kit's
    // replace_triggered_by, runs the job again; the nodes' files stay as they were.
    const usersInput = () => ({
      vhost: props.vhost,
      users: this.appList.map(({ app, password }) => ({ name: app.name, password: password.value, permissions: appPermissions(app) })),
      keepUsers: [USER],
    });
    const usersFile = `${SECURE_DEFAULTS.secretsDir}/${USERS_SECRET}`;
    this.usersJob = new ConfigReloadJob(this, "users", {
      environment: props.environment,
      service: `${this.host}-users`,
      image,
      user: "rabbitmq",
      // rabbitmqctl starts an Erlang VM (RabbitBackup's size).
      memoryMb: 256,
      cpuShares: props.cpuShares,
      dir: USERS_DIR,
      script: {
        name: "sync-users.sh",
        content: renderRabbitUsersScript({
          nodes: nodeNames.map((n) => `rabbit@${n}`),
          cookieFile: `${SECURE_DEFAULTS.secretsDir}/${COOKIE_SECRET}`,
          usersFile,
          expectedFile: `${USERS_DIR}/expected-permissions.tsv`,
          vhost: props.vhost,
          keepUsers: [USER],
          waitSeconds: 180,
        }),
      },
      files: [
        {
          name: "expected-permissions.tsv",
          content: Lazy.stringValue({ produce: () => escapeTemplateText(renderRabbitExpectedPermissions(usersInput())) }),
        },
      ],
      // The image's entrypoint would start a broker first.
      asEntrypoint: true,
      env: { HOME: CLI_HOME },
      tmpfs: { [CLI_HOME]: 1 },
      secrets: [
        // The app users' passwords (hashed by RabbitMQ on import): a secret, never config.
        { name: USERS_SECRET, value: Lazy.stringValue({ produce: () => escapeTemplateText(renderRabbitUserDefinitions(usersInput())) }) },
        { name: COOKIE_SECRET, value: this.erlangCookie.value },
      ],
      network: this.network,
      applies: "applies the app users",
      dependsOn: nodes.flatMap((n) => n.containers),
    });
    for (const app of props.apps ?? []) this.addApp(app);
  }

  /**
   * Adds an app service's own user: write only to the exchanges it publishes to, read and
   * configure only the queues it consumes (appPermissions), a generated password (construct id
   * "<name>-password" in the broker). Returns the app's connection for its service (`uses`).
   */
  addApp(app: RabbitApp): RabbitAppConnection {
    const where = `RabbitBroker ${this.node.path}: addApp("${String(app?.name)}")`;
    const problems = topologyProblems(this.topology, [app]).map((p) => p.replace(/^apps\.0\./, "app."));
    if (app.name === USER) problems.push(`app.name: "${USER}" is the legacy user's name; pick another app name`);
    if (this.appList.some((a) => a.app.name === app.name))
      problems.push(
        `app.name: "${app.name}" was already added; use the connection the first addApp returned (or connectionFor("${app.name}"))`,
      );
    if (problems.length > 0)
      throw new ValidationError(
        where,
        problems.map((p) => `${p} (fix: see the broker's topology and DEFAULT_APPS)`),
      );
    const password = new GeneratedSecret(this, `${app.name}-password`);
    this.appList.push({ app: { name: app.name, publishes: [...app.publishes], consumes: [...app.consumes] }, password });
    return { ...this.connectionAs(app.name, password.value), user: app.name, passwordSecret: password };
  }

  /** The apps added so far, in order. */
  get apps(): readonly RabbitApp[] {
    return this.appList.map((a) => a.app);
  }

  /**
   * Settings for a client. Without a role: the legacy all-access user (unchanged behaviour). With a
   * role: the user of an added app (role = the app's name; addApp returns the same connection).
   */
  connectionFor(role?: string): ServiceConnection {
    if (role === undefined) return this.connectionAs(this.user, this.password.value);
    const added = this.appList.find((a) => a.app.name === role);
    if (!added)
      throw new ValidationError(`RabbitBroker ${this.node.path}`, [
        `no app "${role}"; added apps: ${this.appList.map((a) => a.app.name).join(", ") || "(none)"} (add it with broker.addApp)`,
      ]);
    return this.connectionAs(role, added.password.value);
  }

  private connectionAs(user: string, password: string): ServiceConnection {
    return {
      network: this.network,
      // The users job too: an app added in the same apply starts only once its user exists.
      ready: [...this.nodes.flatMap((n) => n.containers), ...this.usersJob.containers],
      env: { AMQP_HOST: this.host, AMQP_PORT: String(this.port), AMQP_VHOST: this.vhost, AMQP_USER: user },
      secrets: [
        { name: "amqp_password", value: password, envVar: "AMQP_PASSWORD_FILE" },
        {
          name: "amqp_url",
          value: `amqp://${user}:${password}@${this.host}:${this.port}/${encodeURIComponent(this.vhost)}`,
          envVar: "AMQP_URL_FILE",
        },
      ],
    };
  }
}
