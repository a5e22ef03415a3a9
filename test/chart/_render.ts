import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { CHART_DIR, helm } from '../helpers/helm.js';

export type K8sObject = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
};

export const RELEASE = 'auth-shim';
export const NAMESPACE = 'auth-shim-system';

/** `charts/auth-shim/ci/*-values.yaml`: the matrix every chart test runs over. */
export const CI_VALUES = readdirSync(join(CHART_DIR, 'ci'))
  .filter((f) => f.endsWith('-values.yaml'))
  .sort();

export function ciValuesPath(file: string): string {
  return join(CHART_DIR, 'ci', file);
}

/** Parses multi-document YAML, dropping empty documents; throws on any YAML error. */
export function parseManifests(text: string): K8sObject[] {
  const out: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(doc.errors.map((e) => e.message).join('\n'));
    const value = doc.toJS() as K8sObject | null;
    if (value !== null) out.push(value);
  }
  return out;
}

/** `helm template` with the pinned helm; throws with helm's stderr on failure. */
export async function renderChart(args: readonly string[] = []): Promise<K8sObject[]> {
  const r = await helm(['template', RELEASE, CHART_DIR, '--namespace', NAMESPACE, ...args]);
  if (r.code !== 0) throw new Error(`helm template failed (${r.code}):\n${r.stderr}`);
  return parseManifests(r.stdout);
}

export function find(
  objects: readonly K8sObject[],
  kind: string,
  predicate: (o: K8sObject) => boolean = () => true,
): K8sObject {
  const o = objects.find((x) => x.kind === kind && predicate(x));
  if (o === undefined) throw new Error(`no ${kind} rendered`);
  return o;
}

export function findAll(objects: readonly K8sObject[], kind: string): K8sObject[] {
  return objects.filter((x) => x.kind === kind);
}
