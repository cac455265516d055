// The provisioned dashboards, one file each; renderers/grafana.ts renders them (renderDashboards).
import { API_DASHBOARD } from "./api";
import type { DashboardSpec } from "./panels";
import { PLATFORM_DASHBOARD } from "./platform";
import { POSTGRES_DASHBOARD } from "./postgres";
import { RABBITMQ_DASHBOARD } from "./rabbitmq";
import { REDIS_DASHBOARD } from "./redis";

export { DASHBOARD_SCHEMA_VERSION, dashboardJson } from "./dashboard-json";
export { DASHBOARD_UIDS, DATASOURCE_TYPES, type DashboardSpec, type PanelSpec } from "./panels";

/** Every provisioned dashboard (file name = uid + ".json"). */
export const DASHBOARDS: readonly DashboardSpec[] = [
  PLATFORM_DASHBOARD,
  POSTGRES_DASHBOARD,
  REDIS_DASHBOARD,
  RABBITMQ_DASHBOARD,
  API_DASHBOARD,
];
