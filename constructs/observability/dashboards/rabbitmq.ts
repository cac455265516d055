// RabbitMQ: alarms that block publishers, and per-queue backlog, consumers and publish rate.
import { dashboard, job, prom, promInstant, stat, timeseries } from "./panels";

const q = job("rabbitmq");
const alarmMapping = { "0": ["ok", "green"], "1": ["ALARM", "red"] } as const;
export const RABBITMQ_DASHBOARD = dashboard("rabbitmq", "RabbitMQ", [
  stat(
    "Queues without consumers",
    { w: 8, h: 4 },
    [promInstant(`count(sum by (queue) (rabbitmq_queue_consumers{${q}}) == 0) or vector(0)`)],
    { thresholds: [[1, "orange"]] },
  ),
  stat("Memory alarm", { w: 8, h: 4 }, [promInstant(`max(rabbitmq_alarms_memory_used_watermark{${q}})`)], {
    description: "While a memory or disk alarm is on, RabbitMQ blocks every publishing connection.",
    mappings: alarmMapping,
  }),
  stat("Disk alarm", { w: 8, h: 4 }, [promInstant(`max(rabbitmq_alarms_free_disk_space_watermark{${q}})`)], { mappings: alarmMapping }),
  timeseries("Ready messages per queue", [prom(`sum by (queue) (rabbitmq_queue_messages_ready{${q}})`, "{{queue}}")]),
  timeseries("Unacknowledged messages per queue", [prom(`sum by (queue) (rabbitmq_queue_messages_unacked{${q}})`, "{{queue}}")]),
  timeseries("Consumers per queue", [prom(`sum by (queue) (rabbitmq_queue_consumers{${q}})`, "{{queue}}")]),
  timeseries(
    "Publish rate per queue",
    [prom(`sum by (queue) (rate(rabbitmq_queue_messages_published_total{${q}}[$__rate_interval]))`, "{{queue}}")],
    { unit: "ops" },
  ),
]);
