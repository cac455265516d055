import { throwIfProblems, ValidationError } from "../../contract/errors";

/**
 * Pure renderer for the RabbitBroker's definitions file (vhost, users, permissions, exchanges,
 * queues, bindings, policies), imported by the node at every boot.
 *
 * Passwords: a definitions file normally carries `password_hash` (base64(salt ++ sha256(salt ++
 * password)), 4-byte random salt), which cannot be computed at synth time for a password that
 * random_password makes at apply time, and Terraform has no byte-wise functions to compute it in a
 * template either. RabbitMQ's importer (rabbit_auth_backend_internal:put_user/3, 3.6+ and 4.x) also
 * accepts a cleartext `password` instead: it hashes it with the configured algorithm on import and,
 * for a user that already exists, re-hashes it (so a rotated random_password takes effect on the
 * next boot). So the file carries the Terraform token in `password` and is delivered as a secret
 * file, never as config. Checked on a real broker by __tests__/rabbitmq/rabbitmq-server.integration.test.ts.
 */

export type ExchangeType = "topic" | "direct" | "fanout" | "headers";

export interface RabbitExchange {
  readonly name: string;
  readonly type: ExchangeType;
}

export interface RabbitBinding {
  readonly exchange: string;
  readonly routingKey: string;
}

export interface RabbitQueue {
  /** Quorum queue name, e.g. "notifications.telegram". */
  readonly name: string;
  readonly bindings: readonly RabbitBinding[];
  /**
   * Give the queue a dead-letter queue "<name>.dlq" behind the dead-letter exchange.
   * @default true
   */
  readonly deadLetter?: boolean;
}

export interface RabbitTopology {
  readonly exchanges: readonly RabbitExchange[];
  readonly queues: readonly RabbitQueue[];
  /** @default "updateio.dlx" (direct; routing key = the queue's name) */
  readonly deadLetterExchange?: string;
  /** Redeliveries before a message is dead-lettered (policy `delivery-limit`). @default 5 */
  readonly deliveryLimit?: number;
  /** Messages a work queue holds before publishers are refused (policy `max-length`, reject-publish). @default 100000 */
  readonly maxLength?: number;
  /** Messages a dead-letter queue holds; the oldest are dropped beyond it. @default 100000 */
  readonly deadLetterMaxLength?: number;
}

/** An app service's use of the broker: the exchanges it publishes to and the queues it consumes. */
export interface RabbitApp {
  /** The app service's name; also its RabbitMQ user name (e.g. "telegram-bot"). */
  readonly name: string;
  readonly publishes: readonly string[];
  readonly consumes: readonly string[];
}

export interface RabbitPermissions {
  readonly configure: string;
  readonly write: string;
  readonly read: string;
}

export interface RabbitUser {
  readonly name: string;
  /** Cleartext password (a Terraform token); hashed by RabbitMQ on import. */
  readonly password: string;
  /** @default [] (no management access) */
  readonly tags?: readonly string[];
  readonly permissions: RabbitPermissions;
}

export interface RabbitDefinitionsInput {
  readonly vhost: string;
  readonly users: readonly RabbitUser[];
  readonly topology: RabbitTopology;
}

/**
 * UpdateIO's default topology; the platform team changes it through RabbitBrokerProps.topology.
 * Events fan out on a topic exchange, commands go point to point on a direct exchange, and every
 * work queue is a quorum queue with its own dead-letter queue.
 */
export const DEFAULT_TOPOLOGY: RabbitTopology = {
  exchanges: [
    { name: "updateio.events", type: "topic" },
    { name: "updateio.commands", type: "direct" },
  ],
  queues: [
    {
      name: "notifications.telegram",
      bindings: [
        { exchange: "updateio.events", routingKey: "notification.telegram.#" },
        { exchange: "updateio.events", routingKey: "notification.all.#" },
      ],
    },
    {
      name: "notifications.discord",
      bindings: [
        { exchange: "updateio.events", routingKey: "notification.discord.#" },
        { exchange: "updateio.events", routingKey: "notification.all.#" },
      ],
    },
    { name: "updates.fetch", bindings: [{ exchange: "updateio.commands", routingKey: "updates.fetch" }] },
  ],
};

/** Default app users: the services of the platform that talk to the broker. */
export const DEFAULT_APPS: readonly RabbitApp[] = [
  { name: "api", publishes: ["updateio.events", "updateio.commands"], consumes: ["updates.fetch"] },
  { name: "discord-bot", publishes: ["updateio.commands"], consumes: ["notifications.discord"] },
  { name: "telegram-bot", publishes: ["updateio.commands"], consumes: ["notifications.telegram"] },
];

const NAME = /^[a-z][a-z0-9_.-]{0,100}$/;
const APP = /^[a-z][a-z0-9-]{0,40}$/;

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^$()[\]{}|\\]/g, (c) => `\\${c}`);
}

/** An anchored alternation of exact names, or "^$" (nothing) for none. */
export function exactNames(names: readonly string[]): string {
  if (names.length === 0) return "^$";
  return `^(${[...new Set(names)].sort().map(escapeRegex).join("|")})$`;
}

/**
 * Least privilege for an app: write only to the exchanges it publishes to, read only from the
 * queues it consumes, configure only those queues (so a client library's idempotent queue.declare
 * with the same arguments works). It cannot declare, bind or delete exchanges, touch other apps'
 * queues, or publish to the default exchange; the topology itself comes from the definitions.
 */
export function appPermissions(app: RabbitApp): RabbitPermissions {
  return { configure: exactNames(app.consumes), write: exactNames(app.publishes), read: exactNames(app.consumes) };
}

export function deadLetterExchangeOf(topology: RabbitTopology): string {
  return topology.deadLetterExchange ?? "updateio.dlx";
}

export function deadLetterQueueOf(queue: string): string {
  return `${queue}.dlq`;
}

/** Every problem with a topology and its apps, each naming the key and the fix ([] when valid). */
export function topologyProblems(topology: RabbitTopology, apps: readonly RabbitApp[]): string[] {
  const problems: string[] = [];
  const dlx = deadLetterExchangeOf(topology);
  const exchanges = new Set<string>();
  const checkName = (key: string, name: string) => {
    if (!NAME.test(name)) problems.push(`${key}: "${name}" must be lowercase letters, digits, ".", "_" or "-", starting with a letter`);
    else if (name.startsWith("amq.")) problems.push(`${key}: "${name}" uses the reserved amq. prefix`);
  };
  checkName("topology.deadLetterExchange", dlx);
  for (const [i, e] of topology.exchanges.entries()) {
    checkName(`topology.exchanges.${i}.name`, e.name);
    if (exchanges.has(e.name) || e.name === dlx)
      problems.push(`topology.exchanges.${i}.name: "${e.name}" is declared twice (or is the dead-letter exchange)`);
    exchanges.add(e.name);
  }
  const queues = new Set<string>();
  for (const [i, q] of topology.queues.entries()) {
    checkName(`topology.queues.${i}.name`, q.name);
    for (const name of [q.name, ...((q.deadLetter ?? true) ? [deadLetterQueueOf(q.name)] : [])]) {
      if (queues.has(name))
        problems.push(`topology.queues.${i}.name: "${name}" is declared twice (dead-letter queues are named <queue>.dlq)`);
      queues.add(name);
    }
    for (const [j, b] of q.bindings.entries()) {
      if (!exchanges.has(b.exchange))
        problems.push(`topology.queues.${i}.bindings.${j}.exchange: "${b.exchange}" is not one of topology.exchanges`);
      if (b.routingKey.includes("${") || b.routingKey.includes("%{"))
        problems.push(`topology.queues.${i}.bindings.${j}.routingKey: must not contain "\${" or "%{" (Terraform template syntax)`);
    }
  }
  for (const [key, value, min] of [
    ["deliveryLimit", topology.deliveryLimit, 1],
    ["maxLength", topology.maxLength, 1],
    ["deadLetterMaxLength", topology.deadLetterMaxLength, 1],
  ] as const) {
    if (value !== undefined && (!Number.isInteger(value) || value < min))
      problems.push(`topology.${key}: ${value} must be a whole number ≥ ${min}`);
  }
  const appNames = new Set<string>();
  for (const [i, a] of apps.entries()) {
    if (!APP.test(a.name)) problems.push(`apps.${i}.name: "${a.name}" must be an app service name (lowercase letters, digits and dashes)`);
    if (appNames.has(a.name)) problems.push(`apps.${i}.name: "${a.name}" is declared twice`);
    appNames.add(a.name);
    for (const e of a.publishes) if (!exchanges.has(e)) problems.push(`apps.${i}.publishes: "${e}" is not one of topology.exchanges`);
    for (const q of a.consumes)
      if (!topology.queues.some((x) => x.name === q)) problems.push(`apps.${i}.consumes: "${q}" is not one of topology.queues`);
  }
  return problems;
}

/** The definitions JSON: deterministic (sorted where order does not matter), pretty-printed. */
export function renderRabbitDefinitions(input: RabbitDefinitionsInput): string {
  const { vhost, topology } = input;
  if (!/^[a-z0-9_-]+$/.test(vhost)) throw new ValidationError("renderRabbitDefinitions input", [`vhost "${vhost}" must be a simple name`]);
  const problems = topologyProblems(topology, []);
  const userNames = new Set<string>();
  for (const u of input.users) {
    if (!/^[a-z][a-z0-9_-]*$/.test(u.name)) problems.push(`users.${u.name}: must be a simple name`);
    if (userNames.has(u.name)) problems.push(`users.${u.name}: is declared twice`);
    userNames.add(u.name);
    if (u.password.length === 0) problems.push(`users.${u.name}: password is empty`);
  }
  throwIfProblems("renderRabbitDefinitions input", problems);

  const dlx = deadLetterExchangeOf(topology);
  const exchange = (name: string, type: ExchangeType) => ({
    name,
    vhost,
    type,
    durable: true,
    auto_delete: false,
    internal: false,
    arguments: {},
  });
  const queue = (name: string, args: Record<string, string>) => ({
    name,
    vhost,
    durable: true,
    auto_delete: false,
    arguments: { "x-queue-type": "quorum", ...args },
  });
  const binding = (source: string, destination: string, routingKey: string) => ({
    source,
    vhost,
    destination,
    destination_type: "queue",
    routing_key: routingKey,
    arguments: {},
  });

  const queues: ReturnType<typeof queue>[] = [];
  const bindings: ReturnType<typeof binding>[] = [];
  const workQueues: string[] = [];
  const deadLetterQueues: string[] = [];
  for (const q of topology.queues) {
    const deadLetter = q.deadLetter ?? true;
    // Dead-letter exchange and routing key as queue arguments: the routing key differs per queue,
    // and a policy (below) carries the limits that operators may want to tune without redeclaring.
    queues.push(queue(q.name, deadLetter ? { "x-dead-letter-exchange": dlx, "x-dead-letter-routing-key": deadLetterQueueOf(q.name) } : {}));
    workQueues.push(q.name);
    for (const b of q.bindings) bindings.push(binding(b.exchange, q.name, b.routingKey));
    if (deadLetter) {
      queues.push(queue(deadLetterQueueOf(q.name), {}));
      deadLetterQueues.push(deadLetterQueueOf(q.name));
      bindings.push(binding(dlx, deadLetterQueueOf(q.name), deadLetterQueueOf(q.name)));
    }
  }

  const policies = [];
  if (workQueues.length > 0) {
    policies.push({
      vhost,
      name: "updateio-work-queues",
      pattern: exactNames(workQueues),
      // "queues" (not "quorum_queues", which only 3.12+ knows) so the same file loads on 3.10 and 4.1.
      "apply-to": "queues",
      priority: 10,
      definition: {
        "delivery-limit": topology.deliveryLimit ?? 5,
        "max-length": topology.maxLength ?? 100_000,
        overflow: "reject-publish",
      },
    });
  }
  if (deadLetterQueues.length > 0) {
    policies.push({
      vhost,
      name: "updateio-dead-letter-queues",
      pattern: exactNames(deadLetterQueues),
      "apply-to": "queues",
      priority: 10,
      definition: { "max-length": topology.deadLetterMaxLength ?? 100_000, overflow: "drop-head" },
    });
  }

  const users = [...input.users].sort((a, b) => a.name.localeCompare(b.name));
  const definitions = {
    users: users.map((u) => ({ name: u.name, password: u.password, tags: [...(u.tags ?? [])] })),
    vhosts: [{ name: vhost }],
    permissions: users.map((u) => ({
      user: u.name,
      vhost,
      configure: u.permissions.configure,
      write: u.permissions.write,
      read: u.permissions.read,
    })),
    exchanges: [
      ...topology.exchanges.map((e) => exchange(e.name, e.type)),
      ...(deadLetterQueues.length > 0 ? [exchange(dlx, "direct")] : []),
    ],
    queues,
    bindings,
    policies,
  };
  return `${JSON.stringify(definitions, null, 2)}\n`;
}
