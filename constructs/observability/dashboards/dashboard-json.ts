// Turns a DashboardSpec into Grafana dashboard JSON: fixed layout and ids, so the output (uploaded
// into the Grafana container) only changes when a spec does.
import { LOKI, POSTGRES, PROMETHEUS, type DashboardSpec, type DatasourceRef, type PanelSpec, type Query } from "./panels";

/**
 * Dashboard JSON schema version written into every dashboard. 41 is the latest version of Grafana
 * 12.0 (the v41 migration landed in February 2025); 12.1+ (latest 42) migrate it forward on load,
 * while a newer number would be ahead of what 12.0 knows.
 */
export const DASHBOARD_SCHEMA_VERSION = 41;

export function dashboardJson(spec: DashboardSpec, environment: string, timeFrom: string, refresh: string): object {
  return {
    uid: spec.uid,
    title: spec.title,
    tags: [...spec.tags],
    editable: false,
    graphTooltip: 1,
    schemaVersion: DASHBOARD_SCHEMA_VERSION,
    version: 1,
    time: { from: timeFrom, to: "now" },
    timezone: "browser",
    refresh,
    annotations: { list: [] },
    links: [],
    templating: {
      list: [
        {
          // A constant, hidden: one Grafana per environment, so the value is fixed at synth time.
          type: "constant",
          name: "env",
          label: "Environment",
          query: environment,
          current: { text: environment, value: environment },
          hide: 2,
          skipUrlSync: true,
        },
      ],
    },
    panels: layout(spec.panels).map(({ panel, x, y }, i) => panelJson(panel, i + 1, x, y)),
  };
}

/** Left to right, wrapping at 24 columns; a row is as tall as its tallest panel. */
function layout(panels: readonly PanelSpec[]): { panel: PanelSpec; x: number; y: number }[] {
  const placed: { panel: PanelSpec; x: number; y: number }[] = [];
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  for (const panel of panels) {
    if (panel.w < 1 || panel.w > 24) throw new Error(`panel "${panel.title}" width ${panel.w} must be 1..24`);
    if (x + panel.w > 24) {
      x = 0;
      y += rowHeight;
      rowHeight = 0;
    }
    placed.push({ panel, x, y });
    x += panel.w;
    rowHeight = Math.max(rowHeight, panel.h);
  }
  return placed;
}

const REFS = { prometheus: PROMETHEUS, loki: LOKI, postgres: POSTGRES } as const;

function panelJson(p: PanelSpec, id: number, x: number, y: number): object {
  const kinds = new Set(p.queries.map((q) => q.ds));
  if (kinds.size !== 1) throw new Error(`panel "${p.title}" mixes data sources; use one per panel`);
  const datasource = REFS[p.queries[0]!.ds];
  return {
    id,
    type: p.type,
    title: p.title,
    ...(p.description !== undefined ? { description: p.description } : {}),
    datasource,
    gridPos: { h: p.h, w: p.w, x, y },
    targets: p.queries.map((q, i) => targetJson(q, String.fromCharCode(65 + i), REFS[q.ds])),
    fieldConfig: { defaults: fieldDefaults(p), overrides: [] },
    options: panelOptions(p.type),
  };
}

/** fieldConfig.defaults; keys are set in this order (unit, min, max, thresholds, mappings) so the JSON stays stable. */
function fieldDefaults(p: PanelSpec): Record<string, unknown> {
  const defaults: Record<string, unknown> = {};
  if (p.unit !== undefined) defaults.unit = p.unit;
  if (p.min !== undefined) defaults.min = p.min;
  if (p.max !== undefined) defaults.max = p.max;
  if (p.type !== "logs") {
    defaults.thresholds = {
      mode: "absolute",
      steps: [{ color: "green", value: null }, ...(p.thresholds ?? []).map(([value, color]) => ({ color, value }))],
    };
  }
  if (p.mappings !== undefined) {
    defaults.mappings = [
      {
        type: "value",
        options: Object.fromEntries(Object.entries(p.mappings).map(([value, [text, color]], index) => [value, { text, color, index }])),
      },
    ];
  }
  return defaults;
}

function targetJson(q: Query, refId: string, datasource: DatasourceRef): object {
  switch (q.ds) {
    case "prometheus":
      return {
        refId,
        datasource,
        editorMode: "code",
        expr: q.expr,
        legendFormat: q.legend ?? "__auto",
        range: q.instant !== true,
        instant: q.instant === true,
      };
    case "loki":
      return { refId, datasource, editorMode: "code", expr: q.expr, legendFormat: q.legend ?? "", queryType: "range" };
    case "postgres":
      return { refId, datasource, editorMode: "code", format: "table", rawQuery: true, rawSql: q.sql };
  }
}

function panelOptions(type: PanelSpec["type"]): object {
  switch (type) {
    case "timeseries":
      return { legend: { displayMode: "list", placement: "bottom", showLegend: true }, tooltip: { mode: "multi", sort: "desc" } };
    case "stat":
      return {
        colorMode: "value",
        graphMode: "none",
        justifyMode: "auto",
        orientation: "auto",
        reduceOptions: { calcs: ["lastNotNull"], fields: "", values: false },
        textMode: "auto",
      };
    case "table":
      return { cellHeight: "sm", showHeader: true };
    case "logs":
      return {
        dedupStrategy: "none",
        enableLogDetails: true,
        prettifyLogMessage: false,
        showCommonLabels: false,
        showLabels: false,
        showTime: true,
        sortOrder: "Descending",
        wrapLogMessage: true,
      };
  }
}
