import { ValidationError } from "../../contract/errors";

/** Pure renderer for the PostgresCluster's pg_hba.conf (delivered through the hba_file setting). */

export interface PgHbaInput {
  /** The superuser; it may log in only over the local socket, as the same OS user (peer). */
  readonly superuser: string;
  /** The one application database. */
  readonly database: string;
  /** Roles allowed into `database` over TCP with scram-sha-256 (owner, app, read-only). */
  readonly databaseRoles: readonly string[];
  /** Roles allowed to open physical replication connections (replicas' pg_basebackup and walreceiver, base backups). */
  readonly replicationRoles: readonly string[];
  /**
   * Further databases, each with the roles allowed into it and into no other (e.g. Grafana's own
   * database, which holds only statistics functions). List such a role here, not in databaseRoles.
   * @default []
   */
  readonly otherDatabases?: readonly { readonly database: string; readonly roles: readonly string[] }[];
  /**
   * Roles of databaseRoles also allowed into any database (dev's CREATEDB owner: prisma migrate dev
   * connects to the shadow database it creates, whose name is random). Never outside dev.
   * @default []
   */
  readonly anyDatabaseRoles?: readonly string[];
}

const HEADER = ["# TYPE", "DATABASE", "USER", "ADDRESS", "METHOD"];
const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;
/** Words pg_hba.conf reads as keywords in the DATABASE column, never as a database's name. */
const DATABASE_KEYWORDS = new Set(["all", "sameuser", "samerole", "samegroup", "replication"]);

/**
 * First match wins (PostgreSQL manual, "The pg_hba.conf File"); a connection that matches no line
 * is refused, and the explicit reject lines at the end say so for anyone reading the file.
 *
 * Address: Docker assigns the postgres network's subnet when the network is created, so it is not
 * known at synth time. `samenet` is PostgreSQL's keyword for "any address in a subnet the server is
 * directly connected to": inside the container that is the postgres network (an internal bridge
 * that only the database clients join) and loopback. The Docker host's bridge address lies in that
 * subnet too; the host's root can read the data volume anyway, so this gives nothing away.
 * Only scram-sha-256: no md5, no trust, no password.
 */
export function renderPgHba(input: PgHbaInput): string {
  const names = { superuser: input.superuser, database: input.database };
  for (const [key, value] of Object.entries(names)) {
    if (!IDENT.test(value)) throw new ValidationError("renderPgHba input", [`${key} "${value}" must be a lowercase SQL identifier`]);
  }
  if (input.databaseRoles.length === 0)
    throw new ValidationError("renderPgHba input", ["databaseRoles is empty; list the roles that may connect"]);
  if (input.replicationRoles.length === 0)
    throw new ValidationError("renderPgHba input", ["replicationRoles is empty; list the replication role"]);
  for (const [key, list] of [
    ["databaseRoles", input.databaseRoles],
    ["replicationRoles", input.replicationRoles],
  ] as const) {
    for (const role of list) {
      if (!IDENT.test(role)) throw new ValidationError("renderPgHba input", [`${key} entry "${role}" must be a lowercase SQL identifier`]);
      if (role === input.superuser)
        throw new ValidationError("renderPgHba input", [`the superuser "${role}" may only connect over the local socket`]);
    }
  }
  const others = input.otherDatabases ?? [];
  others.forEach((other, i) => {
    const key = `otherDatabases.${i}`;
    if (!IDENT.test(other.database) || DATABASE_KEYWORDS.has(other.database))
      throw new ValidationError("renderPgHba input", [
        `${key}.database "${other.database}" must be a lowercase SQL identifier and not a pg_hba keyword`,
      ]);
    if (other.database === input.database || others.findIndex((o) => o.database === other.database) !== i)
      throw new ValidationError("renderPgHba input", [`${key}.database "${other.database}" is listed twice; merge its roles`]);
    if (other.roles.length === 0)
      throw new ValidationError("renderPgHba input", [`${key}.roles is empty; list the roles that may connect or drop the entry`]);
    for (const role of other.roles) {
      if (!IDENT.test(role) || role === "all")
        throw new ValidationError("renderPgHba input", [`${key}.roles entry "${role}" must be a lowercase SQL identifier`]);
      if (role === input.superuser)
        throw new ValidationError("renderPgHba input", [`the superuser "${role}" may only connect over the local socket`]);
      if (input.databaseRoles.includes(role))
        throw new ValidationError("renderPgHba input", [
          `${key}.roles entry "${role}" is also in databaseRoles; a role of another database must not get "${input.database}" too`,
        ]);
    }
  });
  const anywhere = input.anyDatabaseRoles ?? [];
  for (const role of anywhere)
    if (!input.databaseRoles.includes(role))
      throw new ValidationError("renderPgHba input", [
        `anyDatabaseRoles entry "${role}" must also be in databaseRoles (only a role of the database may get more)`,
      ]);
  const rows: [string, string, string, string, string][] = [
    ["local", "all", input.superuser, "", "peer"],
    ["local", "all", "all", "", "reject"],
    ["host", input.database, [...input.databaseRoles].join(","), "samenet", "scram-sha-256"],
    ...others.map((o): [string, string, string, string, string] => [
      "host",
      o.database,
      [...o.roles].join(","),
      "samenet",
      "scram-sha-256",
    ]),
    ...(anywhere.length > 0
      ? [["host", "all", anywhere.join(","), "samenet", "scram-sha-256"] as [string, string, string, string, string]]
      : []),
    ["host", "replication", [...input.replicationRoles].join(","), "samenet", "scram-sha-256"],
    ["host", "all", "all", "all", "reject"],
    ["host", "replication", "all", "all", "reject"],
  ];
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]!.length), HEADER[i]!.length));
  const line = (cols: string[]) =>
    cols
      .map((c, i) => (i < 4 ? c.padEnd(widths[i]!) : c))
      .join("  ")
      .trimEnd();
  return [
    "# Generated by the UpdateIO infrastructure (PostgresCluster). First match wins.",
    "# samenet = any address on a subnet the server is attached to (the internal postgres network).",
    line(HEADER),
    ...rows.map((r) => line(r)),
    "",
  ].join("\n");
}
