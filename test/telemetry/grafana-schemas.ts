/*
 * JSON Schemas for the shipped Grafana dashboard, derived at test time from the @grafana/schema npm package.
 *
 * ts-json-schema-generator turns the TypeScript declarations that Grafana generates from its CUE schemas
 * (re-exported under distinct names by ./grafana-types.ts) into JSON Schemas; ajv compiles them. Interfaces become
 * closed objects (`additionalProperties: false`), so an unknown or misspelt key is refused, as are wrong types,
 * missing required properties and values outside an enum. Generation takes well under a second, so the result is
 * only memoised in memory for the test run; nothing is written to disk or committed.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type SchemaObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { createGenerator } from 'ts-json-schema-generator';

export const grafanaTypeNames = [
  'GrafanaDashboard',
  'GrafanaRowPanel',
  'TimeSeriesOptions',
  'TimeSeriesFieldConfig',
  'StatOptions',
  'PrometheusTarget',
] as const;
export type GrafanaTypeName = (typeof grafanaTypeNames)[number];

export interface GrafanaSchemas {
  /** Version of the installed @grafana/schema package the schemas were generated from. */
  readonly packageVersion: string;
  /** Wall-clock time spent generating and compiling the schemas. */
  readonly millis: number;
  readonly validators: Readonly<Record<GrafanaTypeName, ValidateFunction>>;
}

const typesFile = fileURLToPath(new URL('./grafana-types.ts', import.meta.url));
const tsconfig = fileURLToPath(new URL('../../tsconfig.json', import.meta.url));

let cached: GrafanaSchemas | undefined;

/** Version of the installed @grafana/schema package (cheap: reads its package.json). */
export function grafanaSchemaPackageVersion(): string {
  const manifest = createRequire(import.meta.url).resolve('@grafana/schema/package.json');
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}

/** Generates (once per test run) and compiles the schemas for every type in grafanaTypeNames. */
export function grafanaSchemas(): GrafanaSchemas {
  cached ??= generate();
  return cached;
}

function generate(): GrafanaSchemas {
  const started = performance.now();
  const generator = createGenerator({
    path: typesFile,
    tsconfig,
    type: '*',
    // Inline everything: the package has several distinct types with the same name (e.g. DataSourceRef in both
    // the common and the dashboard module), which named definitions would make collide.
    expose: 'none',
    topRef: true,
    jsDoc: 'extended',
    skipTypeCheck: false,
  });
  const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
  addFormats.default(ajv);
  const validators = {} as Record<GrafanaTypeName, ValidateFunction>;
  for (const name of grafanaTypeNames) validators[name] = ajv.compile(generator.createSchema(name) as SchemaObject);
  return { packageVersion: grafanaSchemaPackageVersion(), millis: performance.now() - started, validators };
}

function describeError(e: ErrorObject): string {
  return `${e.instancePath === '' ? '/' : e.instancePath} ${e.message ?? 'is invalid'} ${JSON.stringify(e.params)}`;
}

/** Validation errors of `data` against the schema for `type`, one readable line each; [] when valid. */
export function schemaErrors(type: GrafanaTypeName, data: unknown): string[] {
  const validate = grafanaSchemas().validators[type];
  return validate(data) ? [] : [...new Set((validate.errors ?? []).map(describeError))];
}
