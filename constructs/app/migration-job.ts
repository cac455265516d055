import { createHash } from "node:crypto";
import { lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { Annotations, type ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import type { Container, ContainerLabels } from "@cdktf/provider-docker/lib/container";
import { HardenedService } from "../kit/hardened-service";
import { projectPath, type ServiceImage } from "../kit/service-image";
import type { BindMount, VolumeMount } from "../kit/service-spec";
import { ServiceVolume } from "../kit/service-volume";
import type { PostgresCluster } from "../postgres/postgres-cluster";
import { APP_TMPFS, APP_USER, appEnvironment, type AppServiceSettings } from "./app-settings";
import { ValidationError } from "../contract/errors";
import { LABELS } from "../contract";

export interface MigrationJobProps {
  readonly environment: string;
  /** The API's image: migrations ship with the code that needs them. */
  readonly image: ServiceImage;
  /**
   * The API's settings, so the job sees what the API sees: its PORT, env and feature flags, and
   * its CPU shares. Its image, replicas, memory and debug ports are not used.
   */
  readonly apiConfig: Pick<AppServiceSettings, "port" | "env" | "features" | "cpuShares">;
  /** The cluster to migrate: the job connects as the schema owner (connectionFor("migrations")), directly to the primary. */
  readonly postgres: PostgresCluster;
  /** e.g. ["npx", "prisma", "migrate", "deploy"]. */
  readonly command: readonly string[];
  /** Memory limit in MiB (Prisma's engines need a few hundred). */
  readonly memoryMb: number;
  /** LOG_LEVEL of the job. */
  readonly logLevel: string;
  /**
   * DNS name and container name suffix.
   * @default "api-migrate"
   */
  readonly service?: string;
  /**
   * Absolute paths of the folders (or single files) that hold the migrations, e.g.
   * `<build context>/prisma/migrations`. Their content is hashed at synth into the label
   * MIGRATIONS_HASH_LABEL, so a new, edited or renamed migration replaces (re-runs) the job even
   * when the image is not rebuilt (dev). A path that does not exist adds nothing (see `migrationsNote`).
   * @default [] (the job re-runs only when the image changes: test and prod, where migrations ship in the released image)
   */
  readonly migrationPaths?: readonly string[];
  /** Created after these too (e.g. the pre-migration dump). @default [] */
  readonly dependsOn?: readonly ITerraformDependable[];
  /**
   * Dev: the source folder bind-mounted over the image's copy, as the API's is, so a migration
   * re-run by a changed migrationPaths hash runs the new code, not the image's (rebuilt only when
   * the Dockerfile changes). `context` is absolute or relative to the project root.
   * @default undefined (the image's own copy: test and prod)
   */
  readonly source?: { readonly context: string; readonly mountPath: string };
}

/**
 * The job's label holding the migrations' content hash. Labels force a new container in provider
 * 3.6.2 (as the kit's io.updateio.cpu-quota does), and a new one-shot container is a new run.
 */
export const MIGRATIONS_HASH_LABEL = LABELS.migrationsHash;

/** The content hash of migration folders or files, and what could not be read. */
export interface MigrationsHash {
  /** First 16 hex of the sha256; undefined when no path exists. */
  readonly hash?: string;
  /** Paths given that do not exist. */
  readonly missing: readonly string[];
  /** Entries hashed by name only (unreadable files, sockets, FIFOs), relative to their root. */
  readonly unreadable: readonly string[];
  /** Files (and symlinks) hashed. */
  readonly files: number;
}

/**
 * sha256 over every entry under each path, in sorted order of `<index of the path>/<relative path>`:
 * a file is its path and its bytes (length-prefixed, so no two trees hash alike by concatenation),
 * a symlink its path and target (never followed: it may point outside or loop), anything else
 * (an unreadable file, a FIFO, which would block a read) its path and kind. Empty folders add nothing.
 */
export function migrationsHash(paths: readonly string[]): MigrationsHash {
  const h = createHash("sha256");
  const missing: string[] = [];
  const unreadable: string[] = [];
  let files = 0;
  let found = 0;
  const entry = (kind: string, rel: string, body: Buffer) => {
    h.update(`${kind} ${Buffer.byteLength(rel)}:${rel} ${body.length}:`);
    h.update(body);
    h.update("\n");
  };
  const walk = (abs: string, rel: string, root: string): void => {
    let st;
    try {
      st = lstatSync(abs);
    } catch {
      unreadable.push(rel);
      entry("?", rel, Buffer.alloc(0));
      return;
    }
    if (st.isSymbolicLink()) {
      files++;
      entry("L", rel, Buffer.from(readlinkSync(abs)));
    } else if (st.isDirectory()) {
      let names: string[];
      try {
        names = readdirSync(abs);
      } catch {
        unreadable.push(rel === "" ? root : rel);
        entry("?", rel, Buffer.alloc(0));
        return;
      }
      // Code-unit order, not the locale's: the same tree hashes the same on every machine.
      for (const name of names.sort()) walk(join(abs, name), rel === "" ? name : `${rel}/${name}`, root);
    } else if (st.isFile()) {
      try {
        const body = readFileSync(abs);
        files++;
        entry("F", rel, body);
      } catch {
        unreadable.push(rel);
        entry("?", rel, Buffer.alloc(0));
      }
    } else {
      unreadable.push(rel);
      entry("S", rel, Buffer.alloc(0));
    }
  };
  for (const [i, path] of paths.entries()) {
    try {
      lstatSync(path);
    } catch {
      missing.push(path);
      continue;
    }
    found++;
    h.update(`#${i}\n`);
    walk(path, "", path);
  }
  return { hash: found > 0 ? h.digest("hex").slice(0, 16) : undefined, missing, unreadable, files };
}

/**
 * Prisma migrations as a one-shot container, connected as the schema owner. It is replaced (so
 * re-run) whenever the API image changes or, with migrationPaths, the migrations' content does;
 * apply waits for it, fails unless it exits 0, and only then creates the API containers that
 * depend on it.
 */
export class MigrationJob extends Construct {
  readonly service: HardenedService;
  /** The migrations' content hash written to MIGRATIONS_HASH_LABEL, when migrationPaths gave one. */
  readonly migrationsHash?: string;
  /** Why there is no hash, or what it cannot see (missing paths, unreadable files); undefined when all is hashed. */
  readonly migrationsNote?: string;

  constructor(scope: Construct, id: string, props: MigrationJobProps) {
    super(scope, id);
    const problems: string[] = [];
    if (props.command.length === 0)
      problems.push('command: is empty; pass the migrate command, e.g. ["npx", "prisma", "migrate", "deploy"]');
    if (!Number.isInteger(props.memoryMb) || props.memoryMb < 64)
      problems.push(`memoryMb: ${props.memoryMb} must be a whole number of MiB ≥ 64 (Prisma's engines need room; 512 is a good start)`);
    const port = props.apiConfig.port;
    if (!Number.isInteger(port) || port < 1 || port > 65535) problems.push(`apiConfig.port: ${port} must be the API's port (1 to 65535)`);
    if (problems.length > 0) throw new ValidationError(`MigrationJob ${this.node.path}`, problems);

    const service = props.service ?? "api-migrate";
    const database = props.postgres.connectionFor("migrations");
    // An intermediate scope "job": the job's resources keep the construct paths (Terraform
    // addresses) they had when the job was an UpdateioService in this construct.
    const scope_ = new Construct(this, "job");
    const binds: BindMount[] = [];
    const volumes: VolumeMount[] = [];
    if (props.source) {
      const { context, mountPath } = props.source;
      binds.push({ hostPath: projectPath(context), containerPath: mountPath, readOnly: true });
      // node_modules stays the image's: an empty named volume is filled from the image on first use.
      const modules = new ServiceVolume(scope_, "node-modules", {
        environment: props.environment,
        service,
        purpose: "node-modules",
        ephemeral: true,
      });
      volumes.push({ volume: modules, containerPath: `${mountPath}/node_modules` });
    }
    this.service = new HardenedService(scope_, "service", {
      environment: props.environment,
      service,
      component: "job",
      image: props.image,
      replicas: 1,
      user: APP_USER,
      memoryMb: props.memoryMb,
      cpuShares: props.apiConfig.cpuShares,
      command: props.command,
      env: appEnvironment({
        service,
        environment: props.environment,
        port,
        logLevel: props.logLevel,
        features: props.apiConfig.features,
        connections: [database],
        env: [props.apiConfig.env],
      }),
      secrets: database.secrets,
      tmpfs: { ...APP_TMPFS },
      volumes,
      binds,
      ports: [],
      networks: [{ network: database.network }],
      oneShot: true,
      relax: {
        healthcheck: "one-shot job: success is its exit code, which a Terraform postcondition checks",
        "restart-policy": "one-shot job: a failed migration must stop the apply, not loop",
      },
      dependsOn: [...database.ready, ...(props.dependsOn ?? [])],
      waitTimeoutSeconds: 180,
      updateOrder: "start-first",
    });

    const paths = props.migrationPaths ?? [];
    if (paths.length > 0) {
      const m = migrationsHash(paths);
      const notes: string[] = [];
      if (m.missing.length > 0)
        notes.push(
          `${m.missing.join(", ")} not found: ${m.hash ? "not part of the migrations hash" : "no migrations hash, so the job re-runs only when the image changes"} (fix: point migrationPaths at the folder holding the migrations)`,
        );
      if (m.unreadable.length > 0)
        notes.push(
          `${m.unreadable.join(", ")} could not be read: hashed by name only, so an edit of their content does not re-run the job`,
        );
      this.migrationsNote = notes.length > 0 ? notes.join("; ") : undefined;
      // A note, not an error: a dev stack without the app's checkout must still synthesize.
      if (this.migrationsNote) Annotations.of(this).addInfo(`migrationPaths: ${this.migrationsNote}`);
      this.migrationsHash = m.hash;
      if (m.hash) {
        const container = this.service.containers[0]!;
        const labels = (container.labelsInput ?? []) as ContainerLabels[];
        container.putLabels([...labels, { label: MIGRATIONS_HASH_LABEL, value: m.hash }].sort((a, b) => a.label.localeCompare(b.label)));
      }
    }
  }

  /** The container(s) the API must wait for. */
  get containers(): readonly Container[] {
    return this.service.containers;
  }
}
