import type { ITerraformDependable } from "cdktf";
import type { PlatformNetwork } from "./platform-network";
import type { SecretFile } from "./service-spec";

/**
 * What a client service receives when it uses a backing service: the network to join and the
 * settings to read. Wiring is declared once, as `uses`, and never typed by hand per environment.
 */
export interface ServiceConnection {
  /** The backing service's network; the client joins it. */
  readonly network: PlatformNetwork;
  /** Non-secret settings (host, port, names). */
  readonly env: Readonly<Record<string, string>>;
  /** Credentials, delivered as files. */
  readonly secrets: readonly SecretFile[];
  /** The backing service's containers: clients are created after they report healthy. */
  readonly ready: readonly ITerraformDependable[];
}

/** A backing service that app services can use. */
export interface Connectable {
  /** Settings for a client; `role` picks the credentials (e.g. "app" or "migrations"). */
  connectionFor(role?: string): ServiceConnection;
}
