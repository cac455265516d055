/**
 * The broker topology an UpdateIO service relies on. The stack gives each service its own broker
 * user but not the names of its exchanges and queues (those are the platform's topology, fixed
 * in RabbitBroker's DEFAULT_TOPOLOGY / DEFAULT_APPS), so services carry them in code; the
 * integration test checks this table against the stack's.
 */
export interface Messaging {
  /** The service's own queue (it may only read and consume this one). */
  readonly consumes?: string;
  /** Named routes this service may publish to: exchange + routing key. */
  readonly routes: Readonly<Record<string, { readonly exchange: string; readonly routingKey: string }>>;
}

const fetchUpdates = { exchange: "updateio.commands", routingKey: "updates.fetch" };

export const MESSAGING: Readonly<Record<string, Messaging>> = {
  api: {
    consumes: "updates.fetch",
    routes: {
      "updates.fetch": fetchUpdates,
      "notification.telegram": { exchange: "updateio.events", routingKey: "notification.telegram.reference" },
      "notification.discord": { exchange: "updateio.events", routingKey: "notification.discord.reference" },
      "notification.all": { exchange: "updateio.events", routingKey: "notification.all.reference" },
    },
  },
  "discord-bot": { consumes: "notifications.discord", routes: { "updates.fetch": fetchUpdates } },
  "telegram-bot": { consumes: "notifications.telegram", routes: { "updates.fetch": fetchUpdates } },
};

export function messagingOf(service: string): Messaging {
  return MESSAGING[service] ?? { routes: {} };
}
