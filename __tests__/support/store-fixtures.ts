/** Data the store backup tests write before a backup and count after a restore. */
import { spawnSync } from "node:child_process";

/**
 * redis-cli input (one command a line) that writes `n` keys of the kinds the apps keep: sessions
 * (a hash with a 24 h TTL), rate-limit counters (strings), role sets and plain strings, a quarter each.
 */
export function redisKeysInput(n: number): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    if (i % 4 === 0) lines.push(`HSET session:${i} user u${i} ip 10.0.0.${i % 250}`, `EXPIRE session:${i} 86400`);
    else if (i % 4 === 1) lines.push(`SET ratelimit:${i} ${i}`);
    else if (i % 4 === 2) lines.push(`SADD roles:${i} admin user`);
    else lines.push(`SET plain:${i} value-${i}`);
  }
  return lines.join("\n") + "\n";
}

/** Queues, an exchange and bindings an app would declare at runtime in vhost "reports" (not in the rendered definitions). */
export function reportsRuntimeTopology(count = 20) {
  return {
    queues: Array.from({ length: count }, (_, i) => ({
      name: `reports.q${i}`,
      vhost: "reports",
      durable: true,
      auto_delete: false,
      arguments: { "x-queue-type": i % 2 === 0 ? "quorum" : "classic" },
    })),
    exchanges: [{ name: "reports.x", vhost: "reports", type: "topic", durable: true, auto_delete: false, internal: false, arguments: {} }],
    bindings: Array.from({ length: count }, (_, i) => ({
      source: "reports.x",
      vhost: "reports",
      destination: `reports.q${i}`,
      destination_type: "queue",
      routing_key: `r.${i}`,
      arguments: {},
    })),
  };
}

/** A SQLite file shaped like Grafana's (users, dashboards, annotations), written with python3's sqlite3. */
export function seedGrafanaLikeDb(file: string, annotations: number) {
  return spawnSync(
    "python3",
    [
      "-c",
      `import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("create table user (id integer primary key, login text)")
c.execute("create table dashboard (id integer primary key, title text, data text)")
c.execute("create table annotation (id integer primary key, text text, epoch integer)")
c.executemany("insert into user(login) values (?)", [("u%d" % i,) for i in range(50)])
c.executemany("insert into dashboard(title, data) values (?, ?)", [("d%d" % i, "{}" * 200) for i in range(200)])
c.executemany("insert into annotation(text, epoch) values (?, ?)", [("a%d" % i, i) for i in range(int(sys.argv[2]))])
c.commit()`,
      file,
      String(annotations),
    ],
    { encoding: "utf8" },
  );
}
