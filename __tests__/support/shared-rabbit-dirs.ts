import { join } from "node:path";

/** The directories a rabbitmq-server under test reads and writes, each named after itself under one temp dir. */
export type RabbitNodeDirs<Extra extends string> = Readonly<Record<"etc" | "plugins" | "secrets" | "home" | Extra, string>>;

/**
 * The node's config files (etc), enabled_plugins (plugins), mounted secrets (secrets) and HOME (the
 * .erlang.cookie), plus whatever else the test needs (`extra`), all under `dir`. Nothing is created.
 */
export function rabbitNodeDirs<Extra extends string = never>(dir: string, ...extra: Extra[]): RabbitNodeDirs<Extra> {
  const names = ["etc", "plugins", "secrets", "home", ...extra];
  return Object.fromEntries(names.map((name) => [name, join(dir, name)])) as RabbitNodeDirs<Extra>;
}
