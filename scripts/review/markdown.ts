/**
 * The Markdown report of one stack: risks first (when compared), then what runs, the topology,
 * backups, policy suppressions and the change list. Pure: text in, text out.
 * Never prints upload contents or variable values: secrets appear by file name only.
 */
import { settleProblems, type ResourceChange, type StackDiff } from "./classify";
import type { BackupInfo, MountInfo, NetworkRef, PolicyInfo, ServiceInfo, StackInventory } from "./inventory";
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
  return /^0+$/.test(hex) ? "placeholder (sha256:000…)" : `sha256:${hex.slice(0, 12)}…`;
}

function imageCell(s: ServiceInfo): string {
  if (!s.image) return "?";
  return s.image.built ? `${s.image.reference} (built from source)` : s.image.reference;
}

function cpuCell(s: ServiceInfo): string {
  const parts = [];
  if (s.cpuShares !== undefined) parts.push(`${s.cpuShares} shares`);
  if (s.cpuQuota) parts.push(`${(s.cpuQuota.quota / s.cpuQuota.period).toFixed(2)} CPU quota`);
  return parts.join(", ") || "unlimited";
}

function memoryCell(s: ServiceInfo): string {
  if (s.memoryMb === undefined) return "unlimited";
  return s.memorySwapMb !== undefined && s.memorySwapMb !== s.memoryMb ? `${s.memoryMb} MiB (+swap to ${s.memorySwapMb})` : `${s.memoryMb} MiB`;
}

function networkCell(n: NetworkRef): string {
  return `${n.name}${n.internal ? "" : " (routed out)"}`;
}

function mountCell(m: MountInfo): string {
  const mode = m.readOnly ? "ro" : "rw";
  if (m.hostPath !== undefined) return `bind ${m.hostPath.startsWith("${") ? "(source tree)" : m.hostPath} → ${m.containerPath} (${mode})`;
  return `${m.volume} → ${m.containerPath} (${mode}, ${m.protection === "unprotected" ? "UNPROTECTED" : m.protection})`;
}

function portsCell(s: ServiceInfo): string {
  return s.ports.map((p) => `${p.ip}:${p.external}→${p.internal}/${p.protocol}`).join(", ") || "—";
}

function servicesSection(inv: StackInventory): string[] {
  const rows = inv.services.map((s) => [
    `**${s.name}**${s.oneShot ? " (one-shot)" : ""}`,
    s.component,
    imageCell(s),
    s.image?.built ? "local build" : shortDigest(s.image?.digest),
    String(s.replicas),
    memoryCell(s),
    cpuCell(s),
    s.user,
    s.readOnly ? "yes" : "**no**",
  ]);
  const wiring = inv.services.map((s) => [
    `**${s.name}**`,
    s.networks.map(networkCell).join(", ") || "—",
    portsCell(s),
    s.mounts.map(mountCell).join("<br>") || "—",
    s.secrets.join(", ") || "—",
  ]);
  return [
    `## Services (${inv.services.length})`,
    "",
    ...table(["Service", "Component", "Image", "Digest", "Replicas", "Memory", "CPU", "User", "Read-only rootfs"], rows),
    "",
    "### Networks, ports, volumes, secrets",
    "",
    "Secrets are listed by file name under /run/secrets; their values never appear here.",
    "",
    ...table(["Service", "Networks", "Published", "Volumes", "Secrets"], wiring),
  ];
}

function seedsSection(inv: StackInventory): string[] {
  const rows = inv.seeds.map((s) => [s.name, s.service, s.secrets.join(", ") || "—", s.configFiles.join(", ") || "—"]);
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
      ["Network", "Internal", "Services"],
      inv.networks.map((n) => [n.name, n.internal ? "yes" : "**no** (routed out)", n.services.join(", ") || "—"]),
    ),
  ];
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
      data.map((v) => [v.name, v.protection === "protected" ? "protected (prevent_destroy)" : "**UNPROTECTED**", v.mountedBy.join(", ") || "—"]),
    ),
    "",
    ephemeral.length > 0 ? `Ephemeral: ${ephemeral.map((v) => v.name).join(", ")}.` : "",
  ];
}

function publishedSection(inv: StackInventory): string[] {
  const rows = inv.services.flatMap((s) => s.ports.map((p) => [`${p.ip}:${p.external}`, `${s.name}:${p.internal}/${p.protocol}`, p.ip === "127.0.0.1" || p.ip === "::1" ? "this host only" : "**every interface**"]));
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
    "_Read from the scheduler script's defaults (`: \"${KEEP_DAILY:=…}\"`); the container environment could override them._",
  ];
}

function policySection(p: PolicyInfo): string[] {
  const lines = [`## Policy`, "", `### Suppressions (${p.suppressions.length})`, ""];
  lines.push(
    ...table(
      ["Rule", "Declared on", "Findings", "Reason"],
      p.suppressions.map((s) => [s.ruleId, s.scope, String(s.resources.length), s.reason]),
    ),
  );
  lines.push("", `### Warnings (${p.warnings.reduce((n, w) => n + w.count, 0)})`, "");
  if (p.warnings.length === 0) lines.push("_(none)_");
  for (const w of p.warnings) lines.push(w.ruleId ? `- [${w.ruleId}] × ${w.count}, e.g.: ${firstSentence(w.message)}` : `- ${w.message}`);
  if (p.errors.length > 0) lines.push("", `### Errors (${p.errors.length})`, "", ...p.errors.map((e) => `- ${e}`));
  return lines;
}

function firstSentence(message: string): string {
  const cut = message.indexOf(" — ");
  return cut > 0 ? message.slice(0, cut) : message;
}

function settleSection(json: TerraformJson): string[] {
  const problems = ofType(json, "docker_container").flatMap((c) => settleProblems(c.body).map((p) => `- ${String(c.body.name ?? c.address)}: ${p}`));
  return problems.length === 0 ? [] : ["## Plans that would never settle", "", ...problems, ""];
}

function topologySection(t: Topology, picture: PictureStatus): string[] {
  const networks = t.networks.map((n) => `${n.purpose} = ${n.name}${n.internal ? "" : " (routed out)"}`).join("; ");
  return [
    "## Topology",
    "",
    `Arrows: who calls whom, labelled with the network the call takes (${networks}). Thick arrows: published ports; dotted: may open connections to the internet. Replicas are one node; seeds are not drawn.`,
    "",
    "```mermaid",
    renderMermaid(t),
    "```",
    "",
    picture.svg ? `SVG (Graphviz): [${picture.svg}](${picture.svg})` : `No SVG: ${picture.missing ?? "not rendered"}.`,
  ];
}

// ---------------------------------------------------------------------------------------------
// Changes
// ---------------------------------------------------------------------------------------------

function changeRow(c: ResourceChange): string[] {
  const notes = c.notes.length > 0 ? `<br>_${c.notes.join("; ")}_` : "";
  return [`${c.label}`, c.address, `${c.dataLoss ? "**" : ""}${c.consequence}${c.dataLoss ? "**" : ""}${notes}`];
}

export function risksSection(diff: StackDiff): string[] {
  const lines = ["### Risks", ""];
  if (diff.dataLoss.length === 0 && diff.downtime.length === 0 && diff.warnings.length === 0) return [...lines, "None: no data loss, no service fully down.", ""];
  for (const c of diff.dataLoss) lines.push(`- **DATA LOSS**: ${c.label} (${c.address}) — ${c.consequence}${c.notes.length > 0 ? `; ${c.notes.join("; ")}` : ""}`);
  for (const d of diff.downtime) lines.push(`- **DOWNTIME**: ${d.text}`);
  for (const w of diff.warnings) lines.push(`- ${w}`);
  return [...lines, ""];
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
  const counts = `${inv.services.length} services, ${inv.seeds.length} seeds, ${inv.networks.length} networks, ${inv.volumes.length} volumes, ${inv.images.length} images, ${inv.passwords} generated secrets`;
  const lines = [`# Review: stack \`${inv.stack}\``, "", counts, ""];
  if (diff) lines.push(`## Risks against ${input.against ?? "the previous synth"}`, "", ...risksSection(diff).slice(2));
  lines.push(
    ...servicesSection(inv),
    "",
    ...seedsSection(inv),
    "",
    ...networksSection(inv),
    "",
    ...publishedSection(inv),
    "",
    ...volumesSection(inv),
    "",
    ...backupSection(inv.backup),
    "",
    ...policySection(inv.policy),
    "",
    ...settleSection(input.json),
    ...topologySection(input.topology, input.picture),
    "",
  );
  if (diff) lines.push(...changesSection(diff, input.against ?? "the previous synth"));
  return `${lines.join("\n").replace(/\n{3,}/g, "\n\n").trimEnd()}\n`;
}

/** One line per stack for the terminal. */
export function summaryLine(inv: StackInventory, diff: StackDiff | undefined): string {
  const head = `${inv.stack}: ${inv.services.length} services, ${inv.volumes.filter((v) => v.protection === "protected").length} protected / ${inv.volumes.filter((v) => v.protection === "unprotected").length} unprotected data volumes, ${inv.policy.suppressions.length} suppressions`;
  if (!diff) return head;
  const verdict = diff.dataLoss.length > 0 ? "DATA LOSS" : diff.downtime.length > 0 ? "downtime" : "safe";
  return `${head}; changes: ${summaryCounts(diff)} → ${verdict}`;
}
