// Shared vocabulary of the dashboards in this folder: data source refs, query and panel specs, and
// selector helpers. A dashboard file only lists panels; dashboard-json.ts turns them into Grafana JSON.
import { CADVISOR_LABELS, DATASOURCE_UIDS, LOG_LABELS, type LogLabel, type ScrapeJob } from "../renderers/observability-catalogue";

/** Data source plugin ids. PostgreSQL's core plugin is "grafana-postgresql-datasource" ("postgres" is only an alias). */
export const DATASOURCE_TYPES = {
  prometheus: "prometheus",
  loki: "loki",
  postgres: "grafana-postgresql-datasource",
} as const;

/** Dashboard uids: stable, so links (alert runbooks, bookmarks) survive re-provisioning. */
export const DASHBOARD_UIDS = {
  platform: "updateio-platform",
  postgres: "updateio-postgres",
  redis: "updateio-redis",
  rabbitmq: "updateio-rabbitmq",
  api: "updateio-api",
} as const;

export type DatasourceRef = { readonly type: string; readonly uid: string };
export const PROMETHEUS: DatasourceRef = { type: DATASOURCE_TYPES.prometheus, uid: DATASOURCE_UIDS.prometheus };
export const LOKI: DatasourceRef = { type: DATASOURCE_TYPES.loki, uid: DATASOURCE_UIDS.loki };
export const POSTGRES: DatasourceRef = { type: DATASOURCE_TYPES.postgres, uid: DATASOURCE_UIDS.postgres };

export type Query =
  | { readonly ds: "prometheus"; readonly expr: string; readonly legend?: string; readonly instant?: boolean }
  | { readonly ds: "loki"; readonly expr: string; readonly legend?: string }
  | { readonly ds: "postgres"; readonly sql: string };

export const prom = (expr: string, legend?: string): Query => ({ ds: "prometheus", expr, legend });
export const promInstant = (expr: string, legend?: string): Query => ({ ds: "prometheus", expr, legend, instant: true });
export const logql = (expr: string, legend?: string): Query => ({ ds: "loki", expr, legend });
export const sql = (text: string): Query => ({ ds: "postgres", sql: text });

export interface PanelSpec {
  readonly title: string;
  readonly type: "timeseries" | "stat" | "table" | "logs";
  readonly w: number;
  readonly h: number;
  readonly queries: readonly Query[];
  readonly description?: string;
  readonly unit?: string;
  readonly min?: number;
  readonly max?: number;
  /** Ascending thresholds after the green base, e.g. [[0.8, "orange"], [0.9, "red"]]. */
  readonly thresholds?: readonly (readonly [number, string])[];
  /** Value → [text, colour] mappings for stat panels (e.g. 1 → "ok"). */
  readonly mappings?: Readonly<Record<string, readonly [string, string]>>;
}

/** A panel's place on the grid: width in columns (of 24) and height in rows. */
export interface PanelSize {
  readonly w: number;
  readonly h: number;
}

/** What a panel may set beyond its title, size and queries. */
export type PanelExtras = Pick<PanelSpec, "description" | "unit" | "min" | "max" | "thresholds" | "mappings">;

/** A stat panel: the last value of each series. */
export const stat = (title: string, size: PanelSize, queries: readonly Query[], extras: PanelExtras = {}): PanelSpec => ({
  title,
  type: "stat",
  ...size,
  queries,
  ...extras,
});

/**
 * A time series panel, half the dashboard wide. Its axis starts at 0: every series on these
 * dashboards is a rate, a size, a count or a lag, and a floating axis exaggerates small changes.
 */
export const timeseries = (title: string, queries: readonly Query[], extras: PanelExtras = {}): PanelSpec => ({
  title,
  type: "timeseries",
  w: 12,
  h: 8,
  min: 0,
  queries,
  ...extras,
});

export interface DashboardSpec {
  readonly uid: string;
  readonly title: string;
  readonly tags: readonly string[];
  readonly panels: readonly PanelSpec[];
}

/** One of our dashboards: its uid from DASHBOARD_UIDS, its title under "UpdateIO / ", tagged "updateio" and its key. */
export const dashboard = (key: keyof typeof DASHBOARD_UIDS, title: string, panels: readonly PanelSpec[]): DashboardSpec => ({
  uid: DASHBOARD_UIDS[key],
  title: `UpdateIO / ${title}`,
  tags: ["updateio", key],
  panels,
});

// Selector helpers: one place that knows the label names.
export const job = (name: ScrapeJob) => `job="${name}"`;
export const containers = `${CADVISOR_LABELS.environment}="$env", name!=""`;
export const logs = (labels: Partial<Record<LogLabel, string>>) =>
  `{${LOG_LABELS.filter((l) => labels[l] !== undefined)
    .map((l) => `${l}${labels[l]}`)
    .join(", ")}}`;
export const upMapping = { "0": ["down", "red"], "1": ["up", "green"] } as const;
