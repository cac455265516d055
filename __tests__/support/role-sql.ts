/** Assertions shared by the tests of the SQL that creates a Postgres role for one job (monitor, reload, Grafana). */
import { expect } from "vitest";

export interface PasswordFileRole {
  readonly role: string;
  /** The psql variable the password is read into. */
  readonly variable: string;
  readonly passwordFile: string;
  readonly connectionLimit: number;
}

/**
 * The script stops on the first error and creates `role` as a LOGIN role with its connection limit,
 * its password read from the file into a psql variable (never inline) that is unset right after.
 */
export function expectPasswordFileRole(sql: string, r: PasswordFileRole): void {
  expect(sql).toContain("\\set ON_ERROR_STOP on\n");
  expect(sql).toContain(`\\set ${r.variable} \`cat ${r.passwordFile}\`\n`);
  expect(sql).toContain(`CREATE ROLE ${r.role} LOGIN CONNECTION LIMIT ${r.connectionLimit} PASSWORD :'${r.variable}';\n`);
  expect(sql).toContain(`\\unset ${r.variable}\n`);
}
