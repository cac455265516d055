import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  appPermissions,
  DEFAULT_APPS,
  DEFAULT_TOPOLOGY,
  renderRabbitDefinitions,
  type RabbitApp,
} from "../../constructs/rabbitmq/renderers/rabbitmq-definitions";
import {
  RABBIT_APP_TAG,
  renderRabbitExpectedPermissions,
  renderRabbitUserDefinitions,
  renderRabbitUsersScript,
} from "../../constructs/rabbitmq/renderers/rabbitmq-users";
import { describeIfBinary, requireBinary } from "../support/binaries";
import { RabbitNode } from "../support/host-lost";
import { RABBIT_USERS_SCRIPT_INPUT } from "../support/rabbitmq-node";

// RabbitBroker's users job (`<env>-rabbitmq-users`): its script exactly as rendered, run with sh against
// Debian's rabbitmq-server (3.10) on loopback, booted on the boot definitions the broker now renders
// (vhost, topology, the legacy user only). The job has its own HOME, so it installs the cookie itself,
// and reaches the node over Erlang distribution as the job container does. Only paths are overridden
// (the script's `: "${VAR:=...}"` settings), as in rabbit-backup.integration.test.ts.
describeIfBinary(["rabbitmq-server", "rabbitmqctl", "epmd", "sh"], "RabbitBroker's users job on a real rabbitmq-server", () => {
  const dir = mkdtempSync(join(tmpdir(), "updateio-rabbit-users-"));
  const vhost = "updateio-test";
  const legacyPassword = "LegacyPw0123456789abcdefABCDEF01";
  const boot = renderRabbitDefinitions({
    vhost,
    users: [
      { name: "updateio", password: legacyPassword, tags: ["management"], permissions: { configure: ".*", write: ".*", read: ".*" } },
    ],
    topology: DEFAULT_TOPOLOGY,
  });
  const node = new RabbitNode(join(dir, "node"), vhost, boot, "rabbit-users");
  const job = { home: join(dir, "job-home"), files: join(dir, "job-files"), tmp: join(dir, "job-tmp") };
  const script = renderRabbitUsersScript({ ...RABBIT_USERS_SCRIPT_INPUT, vhost });
  const app = (name: string): RabbitApp => DEFAULT_APPS.find((a) => a.name === name)!;
  const pw = (name: string, generation = 1) => `${name.replace(/[^a-z]/g, "")}Gen${generation}Pw0123456789ABCDEFabcdef`;
  const figures = { runs: 0, slowestMs: 0 };

  /** Writes the job's files for these apps (as the seed uploads them), then runs the script. */
  function runJob(apps: readonly { app: RabbitApp; password: string }[], env: NodeJS.ProcessEnv = {}) {
    const input = {
      vhost,
      users: apps.map(({ app: a, password }) => ({ name: a.name, password, permissions: appPermissions(a) })),
      keepUsers: ["updateio"],
    };
    writeFileSync(join(job.files, "rabbitmq_users"), renderRabbitUserDefinitions(input), { mode: 0o644 });
    writeFileSync(join(job.files, "expected-permissions.tsv"), renderRabbitExpectedPermissions(input));
    writeFileSync(join(job.files, "sync-users.sh"), script);
    const t0 = performance.now();
    const r = node.runUsersJob(job.files, job.home, { TMPDIR: job.tmp, ...env });
    figures.runs++;
    figures.slowestMs = Math.max(figures.slowestMs, Math.round(performance.now() - t0));
    return r;
  }

  const rows = (args: string[]) =>
    node
      .ctl(["-q", "--no-table-headers", ...args])
      .out.trim()
      .split("\n")
      .filter((l) => l.length > 0)
      .map((l) => l.split("\t"));
  /** name → tags, as list_users prints them. */
  const users = () => Object.fromEntries(rows(["list_users"]).map(([name, tags]) => [name, tags]));
  const permissions = () =>
    Object.fromEntries(rows(["list_permissions", "-p", vhost]).map(([user, configure, write, read]) => [user, { configure, write, read }]));
  const authenticates = (user: string, password: string) => node.ctl(["authenticate_user", user, password]).status === 0;

  beforeAll(async () => {
    for (const d of Object.values(job)) mkdirSync(d, { recursive: true });
    await node.start();
  }, 120_000);
  afterAll(async () => {
    await node.stop();
    const epmdPort = node.env.ERL_EPMD_PORT;
    if (epmdPort) spawnSync(requireBinary("epmd").path!, ["-port", epmdPort, "-kill"], { timeout: 5_000 });
    rmSync(dir, { recursive: true, force: true });
    console.info(`[rabbitmq-users] job runs ${figures.runs}, slowest ${figures.slowestMs} ms`);
  }, 60_000);

  it("boots with the legacy user only: the node's own files carry no app user", () => {
    expect(users()).toEqual({ updateio: "[management]" });
  });

  it("creates each app user with exactly its permissions and password, installs the cookie 0400, prints no password", () => {
    const r = runJob([
      { app: app("api"), password: pw("api") },
      { app: app("telegram-bot"), password: pw("telegram-bot") },
    ]);
    expect(r.status, r.out).toBe(0);
    expect(users()).toEqual({ api: `[${RABBIT_APP_TAG}]`, "telegram-bot": `[${RABBIT_APP_TAG}]`, updateio: "[management]" });
    expect(permissions()).toEqual({
      api: appPermissions(app("api")),
      "telegram-bot": appPermissions(app("telegram-bot")),
      updateio: { configure: ".*", write: ".*", read: ".*" },
    });
    expect(authenticates("api", pw("api"))).toBe(true);
    expect(authenticates("telegram-bot", pw("telegram-bot"))).toBe(true);
    expect(authenticates("telegram-bot", pw("api"))).toBe(false);
    expect(authenticates("updateio", legacyPassword)).toBe(true);
    expect(statSync(join(job.home, ".erlang.cookie")).mode & 0o777).toBe(0o400);
    expect(readFileSync(join(job.home, ".erlang.cookie"), "utf8")).toBe(RabbitNode.COOKIE);
    expect(r.out).toMatch(/app users \[api telegram-bot\] with their permissions and passwords/);
    expect(r.out).not.toContain(pw("api"));
    expect(r.out).not.toContain(pw("telegram-bot"));
  }, 120_000);

  it("adds a user and rotates another's password in place: the new password works, the old one no longer does", () => {
    const r = runJob([
      { app: app("api"), password: pw("api", 2) },
      { app: app("discord-bot"), password: pw("discord-bot") },
      { app: app("telegram-bot"), password: pw("telegram-bot") },
    ]);
    expect(r.status, r.out).toBe(0);
    expect(authenticates("api", pw("api", 2))).toBe(true);
    expect(authenticates("api", pw("api"))).toBe(false);
    expect(authenticates("discord-bot", pw("discord-bot"))).toBe(true);
    expect(permissions()["discord-bot"]).toEqual(appPermissions(app("discord-bot")));
    expect(r.out).not.toMatch(/deleted/);
  }, 120_000);

  it("replaces an app's permissions when it consumes or publishes something else", () => {
    const changed: RabbitApp = {
      name: "telegram-bot",
      publishes: ["updateio.events"],
      consumes: ["notifications.telegram", "updates.fetch"],
    };
    const r = runJob([
      { app: app("api"), password: pw("api", 2) },
      { app: app("discord-bot"), password: pw("discord-bot") },
      { app: changed, password: pw("telegram-bot") },
    ]);
    expect(r.status, r.out).toBe(0);
    expect(permissions()["telegram-bot"]).toEqual(appPermissions(changed));
    expect(permissions()["telegram-bot"]).not.toEqual(appPermissions(app("telegram-bot")));
  }, 120_000);

  it("deletes a removed app's user, never the legacy user or a user without the app tag", () => {
    // An operator's own user (no tag), and the legacy user tagged by mistake: both must survive.
    expect(node.ctl(["add_user", "operator", "OperatorPw0123456789"]).status).toBe(0);
    expect(node.ctl(["set_permissions", "-p", vhost, "operator", "^$", "^$", ".*"]).status).toBe(0);
    expect(node.ctl(["set_user_tags", "updateio", "management", RABBIT_APP_TAG]).status).toBe(0);
    const r = runJob([
      { app: app("api"), password: pw("api", 2) },
      { app: app("discord-bot"), password: pw("discord-bot") },
    ]);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(/deleted telegram-bot: no longer an app user/);
    expect(r.out, rows(["list_users"]).join("|")).toMatch(/keeping updateio: the boot definitions declare it/);
    expect(Object.keys(users()).sort()).toEqual(["api", "discord-bot", "operator", "updateio"]);
    expect(authenticates("telegram-bot", pw("telegram-bot"))).toBe(false);
    expect(authenticates("updateio", legacyPassword)).toBe(true);
    expect(authenticates("operator", "OperatorPw0123456789")).toBe(true);
    expect(node.ctl(["set_user_tags", "updateio", "management"]).status).toBe(0);
  }, 120_000);

  it("skips a node that does not answer (a cluster node restarting) and uses the next one", () => {
    const r = runJob(
      [
        { app: app("api"), password: pw("api", 2) },
        { app: app("discord-bot"), password: pw("discord-bot") },
      ],
      { RABBITMQ_NODES: `rabbit-gone@localhost ${node.node}` },
    );
    expect(r.status, r.out).toBe(0);
    expect(r.out).toContain(`imported 2 app user(s) into ${node.node}`);
  }, 120_000);

  describe("fails without touching users", () => {
    const apps = [{ app: app("api"), password: pw("api", 3) }]; // would rotate api and delete discord-bot
    const unchanged = () => {
      expect(Object.keys(users()).sort()).toEqual(["api", "discord-bot", "operator", "updateio"]);
      expect(authenticates("api", pw("api", 2))).toBe(true);
      expect(authenticates("discord-bot", pw("discord-bot"))).toBe(true);
    };

    it("a wrong Erlang cookie: the node refuses it three times, exit 1 without waiting out WAIT_SECONDS", () => {
      const wrong = join(dir, "wrong-cookie");
      writeFileSync(wrong, "WrongCookieABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", { mode: 0o644 });
      mkdirSync(join(dir, "job-home-2"));
      const started = Date.now();
      const r = runJob(apps, { RABBITMQ_COOKIE_FILE: wrong, HOME: join(dir, "job-home-2"), WAIT_SECONDS: "180" });
      const seconds = (Date.now() - started) / 1000;
      rmSync(join(dir, "job-home-2"), { recursive: true, force: true });
      expect(r.status, r.out).toBe(1);
      expect(r.out).toMatch(
        /FAILED: rabbit-users@localhost took the connection but refused Erlang distribution 3 times: the cookie in .*wrong-cookie \(or this job's host name\) is not the cluster's/,
      );
      // Three probes (each starts an Erlang VM) and two pauses, not the 180 s wait.
      expect(seconds).toBeLessThan(60);
      unchanged();
    }, 120_000);

    it("no node up at all: waits WAIT_SECONDS, then exit 1", () => {
      const r = runJob(apps, { RABBITMQ_NODES: "rabbit-gone@localhost", WAIT_SECONDS: "2" });
      expect(r.status, r.out).toBe(1);
      expect(r.out).toMatch(/FAILED: no RabbitMQ node answered among \[rabbit-gone@localhost\] after 2s/);
      unchanged();
    }, 120_000);

    it("an unreadable users file: exit 1 before any node is asked", () => {
      const r = runJob(apps, { USERS_FILE: join(dir, "no-such-secret") });
      expect(r.status, r.out).toBe(1);
      expect(r.out).toMatch(/FAILED: cannot read .*no-such-secret \(the users definitions secret\)/);
      unchanged();
    }, 120_000);

    it("a file the broker refuses: import fails, exit 1, and no user is deleted", () => {
      const broken = join(dir, "broken.json");
      writeFileSync(broken, '{"users": [{"name": "api", "password_hash": 42}], "permissions": "nope"}\n');
      const r = runJob(apps, { USERS_FILE: broken });
      expect(r.status, r.out).toBe(1);
      expect(r.out).toMatch(/FAILED: import_definitions .* \(no user was deleted\)/);
      unchanged();
    }, 120_000);
  });

  it("exits 1 naming the user whose permissions differ from what the job expects", () => {
    const apps = [
      { app: app("api"), password: pw("api", 2) },
      { app: app("discord-bot"), password: pw("discord-bot") },
    ];
    // The expected file says discord-bot may read everything; the users file grants its real permissions.
    runJob(apps);
    const expected = join(dir, "tampered.tsv");
    writeFileSync(
      expected,
      readFileSync(join(job.files, "expected-permissions.tsv"), "utf8").replace(/^discord-bot\t.*$/m, "discord-bot\t^$\t^$\t.*"),
    );
    const r = runJob(apps, { EXPECTED_FILE: expected });
    expect(r.status, r.out).toBe(1);
    expect(r.out).toMatch(/MISMATCH: permissions of discord-bot on updateio-test are \[.*\], expected \[\^\$ \^\$ \.\*\]/);
    expect(r.out).toMatch(/FAILED: 1 mismatch\(es\)/);
  }, 120_000);

  it("keeps the app users across a node restart, though the boot definitions do not list them", async () => {
    await node.stop();
    await node.start();
    expect(Object.keys(users()).sort()).toEqual(["api", "discord-bot", "operator", "updateio"]);
    expect(authenticates("api", pw("api", 2))).toBe(true);
    expect(permissions()["discord-bot"]).toEqual(appPermissions(app("discord-bot")));
  }, 180_000);
});
