/*
 * Entry point for generating JSON Schemas from @grafana/schema (see ./grafana-schemas.ts).
 *
 * Every type here is an alias of a type that Grafana generates from its CUE schemas and publishes in the
 * @grafana/schema npm package — except PrometheusTarget, see below. The aliases exist only to give each root a
 * unique name: the package declares several types with the same name (`Options`, `FieldConfig`, `DataSourceRef`).
 * Type-only module: nothing here exists at run time.
 */
import type { DataQuery } from '@grafana/schema';
import type { Dashboard, RowPanel } from '@grafana/schema/dist/esm/raw/dashboard/x/Dashboard_types.gen';
import type * as Stat from '@grafana/schema/dist/esm/raw/composable/stat/panelcfg/x/StatPanelCfg_types.gen';
// biome-ignore format: the module name alone would make the line longer than 120 characters (issue 16)
import type * as TimeSeries from
  '@grafana/schema/dist/esm/raw/composable/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen';

/** The dashboard (schemaVersion 4x, "v1") model, as generated from Grafana's dashboard kind. */
export type GrafanaDashboard = Dashboard;
/**
 * A `type: "row"` panel. The dashboard schema accepts rows as plain panels too, so rows are checked against this
 * as well.
 */
export type GrafanaRowPanel = RowPanel;
/** `options` of a `timeseries` panel. */
export type TimeSeriesOptions = TimeSeries.Options;
/** `fieldConfig.defaults.custom` of a `timeseries` panel. */
export type TimeSeriesFieldConfig = TimeSeries.FieldConfig;
/** `options` of a `stat` panel (the stat panel has no custom field config). */
export type StatOptions = Stat.Options;

/**
 * A Prometheus query target. NOT from @grafana/schema: since Grafana moved the Prometheus datasource out of
 * core, @grafana/schema has no Prometheus query type (it lives in @grafana/prometheus, which this project does
 * not depend on). Only the base `DataQuery` (refId, hide, queryType, key, datasource) comes from the package;
 * the Prometheus fields below are the few this dashboard uses, declared by hand so that any other key (or a
 * typo) is still refused.
 */
export interface PrometheusTarget extends DataQuery {
  /** The PromQL expression (also parsed by dashboard.test.ts). */
  expr: string;
  /** Series name template, e.g. `{{model}}`. */
  legendFormat?: string;
  /** Return a range vector (for graphs). */
  range?: boolean;
  /** Return an instant vector (for stats). */
  instant?: boolean;
  /** Which query editor Grafana opens. */
  editorMode?: 'code' | 'builder';
}
