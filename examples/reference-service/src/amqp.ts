import { randomUUID } from "node:crypto";
import { connect, type ChannelModel, type ConfirmChannel, type ConsumeMessage, type RecoveringChannelModel } from "amqplib";
import type { Logger } from "./log";
import type { Messaging } from "./topology";

export interface Received {
  readonly id: string;
  readonly routingKey: string;
  readonly body: string;
}

/** One connection that reconnects by itself, a confirm channel to publish on, and a consumer on the service's own queue. */
export class Broker {
  readonly received: Received[] = [];
  private channel?: ConfirmChannel;

  private constructor(
    private readonly model: RecoveringChannelModel,
    private readonly messaging: Messaging,
  ) {}

  /** Returns at once; the connection comes up (and comes back) in the background: see `ready`. */
  static async start(url: string, messaging: Messaging, log: Logger): Promise<Broker> {
    let broker: Broker | undefined;
    let early: ConfirmChannel | undefined;
    const model = await connect(url, {
      recovery: {
        initialDelay: 200,
        maxDelay: 5_000,
        waitForConnect: false,
        // After every (re)connect: a new channel and, if the service has a queue, its consumer.
        setup: async (m: ChannelModel) => {
          const ch = await m.createConfirmChannel();
          ch.on("error", (e: Error) => log.warn("amqp channel error", { error: e.message }));
          if (messaging.consumes) {
            await ch.prefetch(10);
            await ch.consume(messaging.consumes, (msg: ConsumeMessage | null) => {
              if (!msg || !broker) return;
              broker.received.push({
                id: String(msg.properties.messageId),
                routingKey: msg.fields.routingKey,
                body: msg.content.toString("utf8"),
              });
              if (broker.received.length > 100) broker.received.shift();
              ch.ack(msg);
            });
          }
          if (broker) broker.channel = ch;
          else early = ch;
          log.info("amqp connected", { consumes: messaging.consumes ?? null });
        },
      },
    });
    broker = new Broker(model, messaging);
    broker.channel = early;
    model.on("disconnect", (e: Error) => {
      if (broker) broker.channel = undefined;
      log.warn("amqp disconnected", { error: e.message });
    });
    model.on("error", (e: Error) => log.warn("amqp error", { error: e.message }));
    return broker;
  }

  get ready(): boolean {
    return this.channel !== undefined;
  }

  /** Publishes a persistent message on one of the service's routes and waits for the broker's confirm. */
  async publish(route: string, body: string): Promise<{ id: string; exchange: string; routingKey: string }> {
    const target = this.messaging.routes[route];
    if (!target) throw new RouteError(route, Object.keys(this.messaging.routes));
    const ch = this.channel;
    if (!ch) throw new Error("the broker connection is not ready");
    const id = randomUUID();
    await new Promise<void>((resolve, reject) => {
      ch.publish(
        target.exchange,
        target.routingKey,
        Buffer.from(body),
        { persistent: true, messageId: id, contentType: "text/plain" },
        (err) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve()),
      );
    });
    return { id, ...target };
  }

  async close(): Promise<void> {
    await this.model.close();
  }
}

export class RouteError extends Error {
  constructor(route: string, known: readonly string[]) {
    super(`unknown route "${route}"; this service publishes to: ${known.join(", ") || "nothing"}`);
  }
}
