import { blocks } from "../json";
import type { PolicyRule } from "../types";

/**
 * CREATEDB (the attribute, or a write to pg_authid.rolcreatedb) in any file the stack delivers:
 * SQL is case-insensitive and may split words across lines; NOCREATEDB takes it away and is fine.
 */
const GRANTS_CREATEDB = /(?<![a-z_])createdb(?![a-z0-9_])|rolcreatedb/i;
const DENIES = /(?<![a-z_])nocreatedb(?![a-z0-9_])/gi;

function grantsCreatedb(text: string): boolean {
  return GRANTS_CREATEDB.test(text.replace(DENIES, ""));
}

/** A literal base64 payload, decoded; an expression (`${...}`) or anything else stays unjudged here. */
function decoded(value: unknown): string | undefined {
  if (typeof value !== "string" || !/^[A-Za-z0-9+/\s]*={0,2}$/.test(value)) return undefined;
  return Buffer.from(value, "base64").toString("utf8");
}

export const createdbDevOnly: PolicyRule = {
  id: "createdb-dev-only",
  level: "error",
  title: "Only dev's schema owner may create databases (CREATEDB)",
  why: "a role that can CREATE DATABASE can fill the disk with databases and, with the owner's password, keep copies of the data outside the backed-up database; only dev's `prisma migrate dev` needs it for its shadow database",
  fix: "leave PostgresCluster's ownerCreatedb off (and postgres.ownerCreatedb unset) outside dev, and grant no role CREATEDB in first-boot SQL; migrations in test and prod run `prisma migrate deploy`, which needs no shadow database.",
  appliesTo: ["docker_container", "docker_config"],
  check(resource, ctx, type) {
    if (ctx.environment === "dev") return [];
    const name = typeof resource.name === "string" ? resource.name : "(unnamed)";
    const files: { file: string; text: string | undefined }[] =
      type === "docker_config"
        ? [{ file: "data", text: decoded(resource.data) }]
        : blocks(resource.upload).map((u) => ({
            file: typeof u.file === "string" ? u.file : "(unnamed file)",
            text: typeof u.content === "string" ? u.content : decoded(u.content_base64),
          }));
    return files
      .filter((f) => f.text !== undefined && grantsCreatedb(f.text))
      .map((f) => `${type} ${name} delivers ${f.file}, which grants CREATEDB in ${ctx.environment}`);
  },
};
