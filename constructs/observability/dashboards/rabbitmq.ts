// RabbitMQ: alarms that block publishers, and per-queue backlog, consumers and publish rate.
import { DASHBOARD_UIDS, job, prom, promInstant, type DashboardSpec } from "./panels";

const q = job("rabbitmq");
export const RABBITMQ_DASHBOARD: DashboardSpec = {
  uid: DASHBOARD_UIDS.rabbitmq,
  title: "UpdateIO / RabbitMQ",
  tags: ["updateio", "rabbitmq"],
  panels: [
    {
      title: "Queues without consumers",
      type: "stat",
      w: 8,
      h: 4,
      queries: [promInstant(`count(sum by (queue) (rabbitmq_queue_consumers{${q}}) == 0) or vector(0)`)],
      thresholds: [[1, "orange"]],
    },
    {
      title: "Memory alarm",
      type: "stat",
      w: 8,
      h: 4,
      description: "While a memory or disk alarm is on, RabbitMQ blocks every publishing connection.",
      queries: [promInstant(`max(rabbitmq_alarms_memory_used_watermark{${q}})`)],
      mappings: { "0": ["ok", "green"], "1": ["ALARM", "red"] },
    },
    {
      title: "Disk alarm",
      type: "stat",
      w: 8,
      h: 4,
      queries: [promInstant(`max(rabbitmq_alarms_free_disk_space_watermark{${q}})`)],
      mappings: { "0": ["ok", "green"], "1": ["ALARM", "red"] },
    },
    {
      title: "Ready messages per queue",
      type: "timeseries",
      w: 12,
      h: 8,
      queries: [prom(`sum by (queue) (rabbitmq_queue_messages_ready{${q}})`, "{{queue}}")],
      min: 0,
    },
    {
      title: "Unacknowledged messages per queue",
      type: "timeseries",
      w: 12,
      h: 8,
      queries: [prom(`sum by (queue) (rabbitmq_queue_messages_unacked{${q}})`, "{{queue}}")],
      min: 0,
    },
    {
      title: "Consumers per queue",
      type: "timeseries",
      w: 12,
      h: 8,
      queries: [prom(`sum by (queue) (rabbitmq_queue_consumers{${q}})`, "{{queue}}")],
      min: 0,
    },
    {
      title: "Publish rate per queue",
      type: "timeseries",
      w: 12,
      h: 8,
      queries: [prom(`sum by (queue) (rate(rabbitmq_queue_messages_published_total{${q}}[$__rate_interval]))`, "{{queue}}")],
      unit: "ops",
      min: 0,
    },
  ],
};
