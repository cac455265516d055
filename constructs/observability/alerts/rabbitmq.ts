// RabbitMQ: queues that back up, have no consumer, or receive dead letters (rabbitmq's prometheus plugin).
import type { CatalogueContext } from "./context";
import type { AlertRule } from "./types";

/** Dead-letter queues are "<queue>.dlq" (rabbitmq-definitions.ts, deadLetterQueueOf): they have no consumers on purpose. */
const DLQ_REGEX = ".+[.]dlq";

export function rabbitmqAlerts({ o }: CatalogueContext): AlertRule[] {
  return [
    {
      name: "RabbitmqQueueBacklog",
      group: "rabbitmq",
      expr: `rabbitmq_queue_messages_ready{queue!~"${DLQ_REGEX}"} > ${o.queueReadyThreshold} and deriv(rabbitmq_queue_messages_ready{queue!~"${DLQ_REGEX}"}[15m]) >= 0`,
      for: "15m",
      severity: "warning",
      labels: { service: "rabbitmq" },
      summary: "Queue {{ $labels.queue }} has a growing backlog",
      description: `Queue {{ $labels.queue }} (vhost {{ $labels.vhost }}) holds more than ${o.queueReadyThreshold} ready messages and has not been shrinking for 15 minutes: consumers are too slow, stuck or failing. Check the consuming service's logs and replicas.`,
    },
    {
      name: "RabbitmqQueueWithoutConsumers",
      group: "rabbitmq",
      expr: `rabbitmq_queue_messages_ready{queue!~"${DLQ_REGEX}"} > 0 and on (instance, vhost, queue) rabbitmq_queue_consumers == 0`,
      for: "10m",
      severity: "warning",
      labels: { service: "rabbitmq" },
      summary: "Queue {{ $labels.queue }} has messages but no consumers",
      description:
        "Queue {{ $labels.queue }} (vhost {{ $labels.vhost }}) has had ready messages and no consumer for 10 minutes: the service that consumes it is down or cannot connect to the broker.",
    },
    {
      name: "RabbitmqDeadLetters",
      group: "rabbitmq",
      expr: `delta(rabbitmq_queue_messages_ready{queue=~"${DLQ_REGEX}"}[15m]) > 0`,
      for: "0s",
      severity: "warning",
      labels: { service: "rabbitmq" },
      summary: "Messages are being dead-lettered into {{ $labels.queue }}",
      description:
        "New messages arrived in dead-letter queue {{ $labels.queue }} in the last 15 minutes: they failed every delivery attempt. Inspect them before replaying; the consumer's logs say why.",
    },
  ];
}
