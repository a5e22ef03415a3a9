import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { parseAllDocuments } from 'yaml';

/**
 * The published CRDs of Flux, prometheus-operator and cert-manager, as pinned in published.txt and
 * fetched by fetch.sh into a cache outside the checkout. test/controlplane installs them in the real
 * kube-apiserver; the offline tests (test/chart, test/deploy, test/telemetry) validate against their
 * openAPIV3Schema with ajv.
 */

const HERE = import.meta.dirname;

export interface PublishedModule {
  readonly module: string;
  readonly version: string;
  readonly subdir: string;
}

/**
 * The rows of a pin file (published.txt, test/flux/controllers.txt — also read by shell scripts):
 * whitespace-separated fields, `#` comments, at least `min` fields a row.
 */
export function pinRows(file: string, min: number): string[][] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.trimStart().startsWith('#'))
    .map((l) => {
      const fields = l.trim().split(/\s+/);
      if (fields.length < min) throw new Error(`${file}: fewer than ${min} fields in ${l}`);
      return fields;
    });
}

export function publishedModules(): PublishedModule[] {
  return pinRows(join(HERE, 'published.txt'), 3).map(([module, version, subdir]) => ({
    module: module as string,
    version: version as string,
    subdir: subdir as string,
  }));
}

function crdsDir(): string {
  return join(process.env['AUTH_SHIM_CACHE'] ?? join(homedir(), '.cache', 'auth-shim'), 'crds');
}

/**
 * Every fetched CRD manifest file. Missing is a failure, not a skip: validation that silently
 * passes without schemas would pass on every machine that lacks them.
 */
export function publishedCrdFiles(): string[] {
  return publishedModules().flatMap(({ module, version }) => {
    const dir = join(crdsDir(), `${module}@${version}`);
    if (!existsSync(join(dir, '.complete'))) {
      throw new Error(
        `the published CRDs of ${module}@${version} are not fetched (${dir}): ` +
          'run `bash test/crds/fetch.sh` (.ci/run does)',
      );
    }
    return readdirSync(dir)
      .filter((f) => f.endsWith('.yaml'))
      .sort()
      .map((f) => join(dir, f));
  });
}

export interface Crd {
  metadata: { name: string };
  spec: {
    group: string;
    names: { kind: string };
    versions: Array<{ name: string; served: boolean; schema?: { openAPIV3Schema: Schema } }>;
  };
}
type Schema = Record<string, unknown>;

let loaded: Crd[] | undefined;
export function publishedCrds(): Crd[] {
  loaded ??= publishedCrdFiles()
    .flatMap((f) => parseAllDocuments(readFileSync(f, 'utf8')).map((d) => d.toJS() as Crd | null))
    .filter((c): c is Crd => c !== null);
  return loaded;
}

export function publishedGroups(): Set<string> {
  return new Set(publishedCrds().map((c) => c.spec.group));
}

/**
 * The API server prunes (and, under kubectl's strict field validation, refuses) fields a structural
 * schema does not declare unless `x-kubernetes-preserve-unknown-fields` is set; JSON Schema allows
 * them. Close every object that lists its properties, as the API server treats it.
 */
function closeObjects(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closeObjects);
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Schema = {};
  for (const [k, v] of Object.entries(schema))
    out[k] =
      k === 'properties'
        ? Object.fromEntries(Object.entries(v as Schema).map(([p, s]) => [p, closeObjects(s)]))
        : closeObjects(v);
  if (
    out['properties'] !== undefined &&
    out['additionalProperties'] === undefined &&
    out['x-kubernetes-preserve-unknown-fields'] !== true
  )
    out['additionalProperties'] = false;
  return out;
}

// Formats (int32, date-time, duration…) and CEL rules (x-kubernetes-validations) are left to the
// API server: test/controlplane dry-runs every object against the same CRDs.
// CRD patterns are Go RE2; the one construct JavaScript lacks that these CRDs use is the inline
// `(?i)` (e.g. `^(?i)(abort|warn)?$`). It becomes the `i` flag for the whole pattern — at most more
// lenient offline; the API server applies the exact pattern.
function goRegExp(pattern: string, flags: string): RegExp {
  return pattern.includes('(?i)')
    ? new RegExp(pattern.replaceAll('(?i)', ''), `${flags}i`)
    : new RegExp(pattern, flags);
}
const regExp = Object.assign(goRegExp, { code: 'goRegExp' });
const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false, code: { regExp } });
const compiled = new Map<string, ValidateFunction>();

/** The validator of `apiVersion` `kind` from the published CRDs, or undefined when none declares it. */
export function crdValidator(apiVersion: string, kind: string): ValidateFunction | undefined {
  const key = `${apiVersion}/${kind}`;
  const hit = compiled.get(key);
  if (hit !== undefined) return hit;
  const [group, version] = apiVersion.split('/');
  const crd = publishedCrds().find((c) => c.spec.group === group && c.spec.names.kind === kind);
  const schema = crd?.spec.versions.find((v) => v.name === version && v.served)?.schema?.openAPIV3Schema;
  if (schema === undefined) return undefined;
  const validate = ajv.compile(closeObjects(schema) as Schema);
  compiled.set(key, validate);
  return validate;
}
