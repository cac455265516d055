import { Pool } from "pg";

/** The table the migration (src/migrate.ts, run as the schema owner) creates; the app role may only read and write rows. */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS reference_notes (
     id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     service text NOT NULL,
     body text NOT NULL CHECK (length(body) <= 1000),
     created_at timestamptz NOT NULL DEFAULT now()
   )`,
];

export function createPool(url: string, max: number): Pool {
  // Unnamed statements only (pg's default): safe behind PgBouncer in transaction mode.
  return new Pool({ connectionString: url, max, idleTimeoutMillis: 30_000, connectionTimeoutMillis: 5_000 });
}

export async function addNote(pool: Pool, service: string, body: string): Promise<{ id: string }> {
  const r = await pool.query<{ id: string }>("INSERT INTO reference_notes (service, body) VALUES ($1, $2) RETURNING id", [service, body]);
  return r.rows[0]!;
}

export async function getNote(pool: Pool, id: string): Promise<{ id: string; service: string; body: string } | undefined> {
  const r = await pool.query<{ id: string; service: string; body: string }>("SELECT id, service, body FROM reference_notes WHERE id = $1", [
    id,
  ]);
  return r.rows[0];
}
