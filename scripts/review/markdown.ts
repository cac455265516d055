/**
 * The Markdown report of one stack: risks first (when compared), then what runs (Swarm services with
 * how they update and what would replace them), the topology, backups, policy suppressions and the
 * change list. Pure: text in, text out.
 * Never prints upload contents, secret data or variable values: secrets appear by name only.
 */
import { settleProblems, type ResourceChange, type StackDiff } from "./classify";
import { needsStagedApply } from "./staging";
import type { BackupInfo, MountInfo, NetworkRef, PolicyInfo, ServiceInfo, StackInventory } from "./inventory";
import { mdText as md } from "./safe-text";
import { PLAN_PREFIX } from "./stages-file";
import { networkProblems, serviceProblems, swarmObjectProblems } from "./swarm";
import { ofType, type TerraformJson } from "./terraform-json";
import { renderMermaid, type Topology } from "./topology";

export interface PictureStatus {
  /** Path of the SVG relative to the report, when rendered. */
  readonly svg?: string;
  /** Why there is no SVG (dot missing, dot failed). */
  readonly missing?: string;
}

export interface ReportInput {
  readonly inventory: StackInventory;
  readonly topology: Topology;
  readonly json: TerraformJson;
  readonly picture: PictureStatus;
  /** Present when compared with an earlier synth. */
  readonly diff?: StackDiff;
  /** What the comparison was against ("git HEAD", a folder). */
  readonly against?: string;
  /** The stack's planDigest in the stages file (see stages-file.ts), shown with a staged apply. */
  readonly planDigest?: string;
}

/** Markdown table cell: no pipes or newlines. */
export function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  if (rows.length === 0) return ["_(none)_"];
  return [`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.map(cell).join(" | ")} |`)];
}

function shortDigest(digest: string | undefined): string {
  if (!digest) return "tag only (not pinned)";
  const hex = digest.replace(/^sha256:/, "");
  return /^0+$/.test(hex) ? "placeholder (sha256:000…)" : `sha256:${md(hex.slice(0, 12))}…`;
}

function imageCell(s: ServiceInfo): string {
  if (!s.image) return "?";
  return s.image.built ? `${md(s.image.reference)} (built from source)` : md(s.image.reference);
}

function cpuCell(s: ServiceInfo): string {
  if (s.swarm) return s.swarm.cpus !== undefined ? `${s.swarm.cpus.toFixed(2)} CPU limit` : "unlimited";
  const parts = [];
  if (s.cpuShares !== undefined) parts.push(`${s.cpuShares} shares`);
  if (s.cpuQuota) parts.push(`${(s.cpuQuota.quota / s.cpuQuota.period).toFixed(2)} CPU quota`);
  return parts.join(", ") || "unlimited";
}

function memoryCell(s: ServiceInfo): string {
  if (s.memoryMb === undefined) return "unlimited";
  if (s.swarm)
    return s.swarm.memoryReservationMb !== undefined ? `${s.memoryMb} MiB (reserves ${s.swarm.memoryReservationMb})` : `${s.memoryMb} MiB`;
  return s.memorySwapMb !== undefined && s.memorySwapMb !== s.memoryMb
    ? `${s.memoryMb} MiB (+swap to ${s.memorySwapMb})`
    : `${s.memoryMb} MiB`;
}

function networkCell(n: NetworkRef): string {
  return `${md(n.name)}${n.internal ? "" : " (routed out)"}`;
}

function replicasCell(s: ServiceInfo): string {
  return s.swarm?.mode === "global" ? "global (one per node)" : String(s.replicas);
}

function mountCell(m: MountInfo): string {
  const mode = m.readOnly ? "ro" : "rw";
  if (m.hostPath !== undefined)
    return `bind ${m.hostPath.startsWith("${") ? "(source tree)" : md(m.hostPath)} → ${md(m.containerPath)} (${mode})`;
  return `${md(m.volume ?? "?")} → ${md(m.containerPath)} (${mode}, ${m.protection === "unprotected" ? "UNPROTECTED" : m.protection})`;
}

function portsCell(s: ServiceInfo): string {
  return (
    s.ports
      .map((p) => `${md(p.ip)}:${p.external}→${p.internal}/${md(p.protocol)}${p.publishMode ? ` (${md(p.publishMode)})` : ""}`)
      .join(", ") || "—"
  );
}

function servicesSection(inv: StackInventory): string[] {
  const rows = inv.services.map((s) => [
    `**${md(s.name)}**${s.oneShot ? " (one-shot)" : ""}${s.swarm ? " (Swarm service)" : ""}`,
    md(s.component),
    imageCell(s),
    s.image?.built ? "local build" : shortDigest(s.image?.digest),
    replicasCell(s),
    memoryCell(s),
    cpuCell(s),
    md(s.user),
    s.readOnly ? "yes" : "**no**",
  ]);
  const wiring = inv.services.map((s) => [
    `**${md(s.name)}**`,
    s.networks.map(networkCell).join(", ") || "—",
    portsCell(s),
    s.mounts.map(mountCell).join("<br>") || "—",
    md(s.secrets.join(", ")) || "—",
  ]);
  return [
    `## Services (${inv.services.length})`,
    "",
    ...table(["Service", "Component", "Image", "Digest", "Replicas", "Memory", "CPU", "User", "Read-only rootfs"], rows),
    "",
    "### Networks, ports, volumes, secrets",
    "",
    "Secrets are listed by file name under /run/secrets; their values never appear here. A Swarm service's published ports have no host IP: ingress publishes on every node.",
    "",
    ...table(["Service", "Networks", "Published", "Volumes", "Secrets"], wiring),
  ];
}

function policyCell(p: { order: string; failureAction: string; parallelism: number; delay: string; monitor: string }): string {
  return md(`${p.order}, ${p.parallelism} at a time, delay ${p.delay}, monitor ${p.monitor}; on failure: ${p.failureAction}`);
}

/** Swarm services: how they update and roll back, where they run, and what would replace them. */
function swarmSection(inv: StackInventory): string[] {
  const swarm = inv.services.filter((s) => s.swarm);
  if (swarm.length === 0 && inv.swarmObjects.length === 0) return [];
  const rows = swarm.map((s) => {
    const w = s.swarm!;
    return [
      `**${md(s.name)}**`,
      md(w.serviceName),
      replicasCell(s),
      policyCell(w.update),
      policyCell(w.rollback),
      md(w.placement.join(", ")) || "any node",
      md(w.endpointMode),
      md(w.configs.join(", ")) || "—",
    ];
  });
  const forceNew = swarm.map((s) => {
    const f = s.swarm!.forceNew;
    return [
      `**${md(s.name)}**`,
      md(s.swarm!.serviceName),
      md(f.networks.join("; ")) || "—",
      `${f.labels} service, ${f.containerLabels} container`,
      `${f.hosts} hosts, ${f.sysctls} sysctls`,
    ];
  });
  const objects = inv.swarmObjects.map((o) => [
    md(o.name),
    o.type === "docker_secret" ? "secret" : "config",
    md(o.mountedBy.join(", ")) || "— (no service mounts it)",
    o.createBeforeDestroy ? "new object first (create_before_destroy)" : "**no create_before_destroy: a new value fails the apply**",
  ]);
  return [
    `## Swarm services (${swarm.length})`,
    "",
    "A change to the image, env, secrets or configs list, resources, healthcheck, restart policy or log driver is a rolling update: tasks are replaced one batch at a time, in the update order below, and a failed task triggers the failure action. Replicas, update and rollback settings change without restarting tasks; placement moves only tasks whose node no longer matches.",
    "",
    ...table(["Service", "Swarm name", "Replicas", "Update", "Rollback", "Placement", "Endpoint", "Config files"], rows),
    "",
    "### What replaces a Swarm service (downtime)",
    "",
    "In kreuzwerker/docker 3.6.2 these values are ForceNew: changing one destroys the service and creates it again under the same name, so every task stops (create_before_destroy cannot help: the name conflicts). They are: the name, the service and container labels, the networks and their aliases (networks_advanced), hosts, sysctls and registry auth. A replaced network replaces every service on it. Switching replicated ↔ global is planned in place and refused by the engine: the apply fails.",
    "",
    ...table(["Service", "Name", "Networks (aliases)", "Labels", "Hosts, sysctls"], forceNew),
    "",
    `### Swarm secrets and configs (${inv.swarmObjects.length})`,
    "",
    "By name only, never their data. Immutable: a new value is a new object (the name carries a hash of the content), created before the old one is removed; the services that mount it roll over to it.",
    "",
    ...table(["Object", "Kind", "Mounted by (service:path)", "On a new value"], objects),
  ];
}

function seedsSection(inv: StackInventory): string[] {
  const rows = inv.seeds.map((s) => [md(s.name), md(s.service), md(s.secrets.join(", ")) || "—", md(s.configFiles.join(", ")) || "—"]);
  return [
    `## Config/secret carriers (${inv.seeds.length} seeds)`,
    "",
    "Never-started containers that take the uploads and hand them to a read-only service through a volume; a change to their files replaces the service (replace_triggered_by).",
    "",
    ...table(["Seed", "For", "Secret files", "Config files"], rows),
  ];
}

function networksSection(inv: StackInventory): string[] {
  return [
    `## Networks (${inv.networks.length})`,
    "",
    ...table(
      ["Network", "Internal", "Driver", "Services"],
      inv.networks.map((n) => [md(n.name), n.internal ? "yes" : "**no** (routed out)", driverCell(n), md(n.services.join(", ")) || "—"]),
    ),
  ];
}

function driverCell(n: NetworkRef): string {
  if (n.driver !== "overlay") return md(n.driver ?? "bridge");
  return ["overlay", ...(n.attachable ? ["attachable"] : []), ...(n.encrypted ? ["encrypted"] : [])].join(", ");
}

function volumesSection(inv: StackInventory): string[] {
  const order = { unprotected: 0, protected: 1, ephemeral: 2 } as const;
  const volumes = [...inv.volumes].sort((a, b) => order[a.protection] - order[b.protection] || a.name.localeCompare(b.name));
  const data = volumes.filter((v) => v.protection !== "ephemeral");
  const ephemeral = volumes.filter((v) => v.protection === "ephemeral");
  return [
    `## Volumes (${data.length} with data, ${ephemeral.length} ephemeral)`,
    "",
    "Every docker_volume attribute forces replacement and a delete removes the data: volumes with data need prevent_destroy (protected). Ephemeral volumes are refilled from config.",
    "",
    ...table(
      ["Volume", "Protection", "Mounted by"],
      data.map((v) => [
        md(v.name),
        v.protection === "protected" ? "protected (prevent_destroy)" : "**UNPROTECTED**",
        md(v.mountedBy.join(", ")) || "—",
      ]),
    ),
    "",
    ephemeral.length > 0 ? `Ephemeral: ${md(ephemeral.map((v) => v.name).join(", "))}.` : "",
  ];
}

function publishedSection(inv: StackInventory): string[] {
  const reach = (ip: string, mode: string | undefined) =>
    mode === "ingress"
      ? "**every node, every interface** (ingress mesh)"
      : mode === "host"
        ? "**every interface** of the nodes running a task (host mode)"
        : ip === "127.0.0.1" || ip === "::1"
          ? "this host only"
          : "**every interface**";
  const rows = inv.services.flatMap((s) =>
    s.ports.map((p) => [`${md(p.ip)}:${p.external}`, `${md(s.name)}:${p.internal}/${md(p.protocol)}`, reach(p.ip, p.publishMode)]),
  );
  return ["## Published ports", "", ...table(["Bind", "Target", "Reachable from"], rows)];
}

function seconds(value: string | undefined): string {
  if (value === undefined) return "?";
  const n = Number(value);
  if (n % 86400 === 0) return `${n / 86400} day(s)`;
  if (n % 3600 === 0) return `${n / 3600} hour(s)`;
  if (n % 60 === 0) return `${n / 60} minute(s)`;
  return `${n} s`;
}

function backupSection(b: BackupInfo): string[] {
  if (!b.scheduler) return ["## Backups", "", "**No backup scheduler in this stack.**"];
  const s = b.settings;
  return [
    "## Backups",
    "",
    `- Dump schedule: daily at ${s.BACKUP_AT ?? "?"} UTC; retry after ${seconds(s.BACKUP_RETRY_SECONDS)} on failure.`,
    `- Retention: ${s.KEEP_DAILY ?? "?"} daily, ${s.KEEP_WEEKLY ?? "?"} weekly, ${s.KEEP_MONTHLY ?? "?"} monthly dumps.`,
    `- Base backups (PITR with the WAL archive): every ${seconds(s.BASE_BACKUP_EVERY_SECONDS)}, newest ${s.KEEP_BASE_BACKUPS ?? "?"} kept.`,
    b.offsite
      ? `- Off-host copy: yes (postgres-offsite, every ${seconds(b.offsiteSettings.OFFSITE_INTERVAL_SECONDS)}).`
      : "- Off-host copy: **no** — backups stay on this host (a lost host loses them).",
    "",
    '_Read from the scheduler script\'s defaults (`: "${KEEP_DAILY:=…}"`); the container environment could override them._',
  ];
}

function policySection(p: PolicyInfo): string[] {
  const lines = [`## Policy`, "", `### Suppressions (${p.suppressions.length})`, ""];
  lines.push(
    ...table(
      ["Rule", "Declared on", "Findings", "Reason"],
      p.suppressions.map((s) => [md(s.ruleId), md(s.scope), String(s.resources.length), md(s.reason)]),
    ),
  );
  lines.push("", `### Warnings (${p.warnings.reduce((n, w) => n + w.count, 0)})`, "");
  if (p.warnings.length === 0) lines.push("_(none)_");
  for (const w of p.warnings)
    lines.push(w.ruleId ? `- [${md(w.ruleId)}] × ${w.count}, e.g.: ${md(firstSentence(w.message))}` : `- ${md(w.message)}`);
  if (p.errors.length > 0) lines.push("", `### Errors (${p.errors.length})`, "", ...p.errors.map((e) => `- ${md(e)}`));
  return lines;
}

function firstSentence(message: string): string {
  const cut = message.indexOf(" — ");
  return cut > 0 ? message.slice(0, cut) : message;
}

function settleSection(json: TerraformJson): string[] {
  const problems = [
    ...ofType(json, "docker_container").flatMap((c) =>
      settleProblems(c.body).map((p) => `- ${md(String(c.body.name ?? c.address))}: ${md(p)}`),
    ),
    ...ofType(json, "docker_service").flatMap((c) =>
      serviceProblems(c.body).map((p) => `- ${md(String(c.body.name ?? c.address))}: ${md(p)}`),
    ),
    ...["docker_secret", "docker_config"].flatMap((t) =>
      ofType(json, t).flatMap((c) => swarmObjectProblems(t, c.body).map((p) => `- ${md(c.address)}: ${md(p)}`)),
    ),
    ...ofType(json, "docker_network").flatMap((c) =>
      networkProblems(c.body).map((p) => `- ${md(String(c.body.name ?? c.address))}: ${md(p)}`),
    ),
  ];
  return problems.length === 0 ? [] : ["## Plans that would never settle, or fail", "", ...problems, ""];
}

function topologySection(t: Topology, picture: PictureStatus): string[] {
  const networks = t.networks.map((n) => `${md(n.purpose)} = ${md(n.name)}${n.internal ? "" : " (routed out)"}`).join("; ");
  return [
    "## Topology",
    "",
    `Arrows: who calls whom, labelled with the network the call takes (${networks}). Thick arrows: published ports; dotted: may open connections to the internet. Replicas are one node; seeds are not drawn.`,
    "",
    "```mermaid",
    renderMermaid(t),
    "```",
    "",
    picture.svg ? `SVG (Graphviz): [${md(picture.svg)}](${encodeURI(picture.svg)})` : `No SVG: ${md(picture.missing ?? "not rendered")}.`,
  ];
}

// ---------------------------------------------------------------------------------------------
// Changes
// ---------------------------------------------------------------------------------------------

function changeRow(c: ResourceChange): string[] {
  const notes = c.notes.length > 0 ? `<br>_${md(c.notes.join("; "))}_` : "";
  return [md(c.label), md(c.address), `${c.dataLoss ? "**" : ""}${md(c.consequence)}${c.dataLoss ? "**" : ""}${notes}`];
}

export function risksSection(diff: StackDiff, planDigest?: string): string[] {
  const lines = ["### Risks", ""];
  if (diff.dataLoss.length === 0 && diff.downtime.length === 0 && diff.warnings.length === 0)
    return [...lines, "None: no data loss, no service fully down.", ""];
  for (const c of diff.dataLoss)
    lines.push(
      `- **DATA LOSS**: ${md(c.label)} (${md(c.address)}) — ${md(c.consequence)}${c.notes.length > 0 ? `; ${md(c.notes.join("; "))}` : ""}`,
    );
  for (const d of diff.downtime) lines.push(`- **DOWNTIME**: ${md(d.text)}`);
  for (const w of diff.warnings) lines.push(`- ${md(w)}`);
  return [...lines, "", ...stagedApplySection(diff, planDigest)];
}

/** The stages of a required staged apply, as commands a person can run (docs/runbooks/promote-to-prod.md). */
export function stagedApplySection(diff: StackDiff, planDigest?: string): string[] {
  const staged = diff.staged;
  if (!needsStagedApply(staged)) return [];
  const dir = `cdktf.out/stacks/${diff.stack}`;
  const lines = [
    "### Staged apply required",
    "",
    ...staged!.conflicts.map((c) => `- ${md(c)}`),
    ...staged!.notes.map((n) => `- _${md(n)}_`),
    "",
  ];
  lines.push(
    `Apply in ${staged!.stages.length} stages, each after the previous one succeeded and its containers are healthy (\`npm run apply:staged -- --stack ${diff.stack} --stages <file>\` runs them from \`npm run review -- --stages-json <file>\`):`,
    "",
  );
  for (const st of staged!.stages) lines.push(`${st.stage}. ${md(st.why)}`);
  lines.push(
    "",
    "```sh",
    ...staged!.stages.map((st) => `terraform -chdir=${dir} apply${st.targets.map((t) => ` \\\n    -target=${t}`).join("")}`),
    "```",
    "",
  );
  // Shown where the approval is given, so the apply can be held to exactly these stages.
  if (planDigest !== undefined)
    lines.push(
      `Stages file plan digest: \`${planDigest}\`. \`npm run apply:staged -- --stack ${diff.stack} --stages <file> --expect-plan ${planDigest.slice(0, PLAN_PREFIX)}\` refuses a stages file with any other stages, targets or order.`,
      "",
    );
  return lines;
}

export function changesSection(diff: StackDiff, against: string): string[] {
  const header = ["Resource", "Address", "Consequence"];
  return [
    `## Changes against ${against}`,
    "",
    summaryCounts(diff),
    "",
    `### Added (${diff.added.length})`,
    "",
    ...table(header, diff.added.map(changeRow)),
    "",
    `### Removed (${diff.removed.length})`,
    "",
    ...table(header, diff.removed.map(changeRow)),
    "",
    `### Changed (${diff.changed.length})`,
    "",
    ...table(header, diff.changed.map(changeRow)),
    "",
  ];
}

export function summaryCounts(diff: StackDiff): string {
  const replaced = diff.changed.filter((c) => c.action === "replace").length;
  const inPlace = diff.changed.filter((c) => c.action === "update").length;
  return `${diff.added.length} added, ${diff.removed.length} removed, ${diff.changed.length} changed (${replaced} replaced, ${inPlace} in place); ${diff.dataLoss.length} data loss, ${diff.downtime.length} service(s) down`;
}

// ---------------------------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------------------------

export function renderReport(input: ReportInput): string {
  const { inventory: inv, diff } = input;
  const swarm = inv.services.filter((s) => s.swarm).length;
  const counts = `${inv.services.length} services${swarm > 0 ? ` (${swarm} on Swarm)` : ""}, ${inv.seeds.length} seeds,${inv.swarmObjects.length > 0 ? ` ${inv.swarmObjects.length} Swarm secrets/configs,` : ""} ${inv.networks.length} networks, ${inv.volumes.length} volumes, ${inv.images.length} images, ${inv.passwords} generated secrets`;
  const lines = [`# Review: stack \`${inv.stack}\``, "", counts, ""];
  if (diff) lines.push(`## Risks against ${input.against ?? "the previous synth"}`, "", ...risksSection(diff, input.planDigest).slice(2));
  const sections = [
    servicesSection(inv),
    swarmSection(inv),
    seedsSection(inv),
    networksSection(inv),
    publishedSection(inv),
    volumesSection(inv),
    backupSection(inv.backup),
    policySection(inv.policy),
  ];
  for (const section of sections) lines.push(...section, "");
  lines.push(...settleSection(input.json), ...topologySection(input.topology, input.picture), "");
  if (diff) lines.push(...changesSection(diff, input.against ?? "the previous synth"));
  return `${lines
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .trimEnd()}\n`;
}

/** What a change comes to, worst first: DATA LOSS, a staged apply, downtime, or safe. */
export function verdictOf(diff: StackDiff): string {
  const staged = needsStagedApply(diff.staged) ? `staged apply required (${diff.staged!.stages.length} stages)` : undefined;
  return diff.dataLoss.length > 0
    ? `DATA LOSS${staged ? `; ${staged}` : ""}`
    : (staged ?? (diff.downtime.length > 0 ? "downtime" : "safe"));
}

/** One line per stack for the terminal. */
export function summaryLine(inv: StackInventory, diff: StackDiff | undefined): string {
  const head = `${inv.stack}: ${inv.services.length} services, ${inv.volumes.filter((v) => v.protection === "protected").length} protected / ${inv.volumes.filter((v) => v.protection === "unprotected").length} unprotected data volumes, ${inv.policy.suppressions.length} suppressions`;
  if (!diff) return head;
  return `${head}; changes: ${summaryCounts(diff)} → ${verdictOf(diff)}`;
}
