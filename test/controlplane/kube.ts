import { expectGolden } from '../helpers/golden.js';
import { parse, stringify } from 'yaml';
import { expect } from 'vitest';
import type { ChildShim } from '../helpers/child.js';
import type { ControlPlane } from './cluster.js';
import { publishedCrdFiles } from '../crds/crds.js';

/** Helpers shared by the control-plane tests: objects in, stored objects out, golden comparison. */

/** What the helpers need of a cluster: its kubectl (the control plane here, the kubelet cluster in test/cluster). */
export type Kubectl = Pick<ControlPlane, 'kubectl' | 'kubectlOk'>;

export type Obj = Record<string, unknown> & { metadata?: Record<string, unknown>; spec?: Record<string, unknown> };

/** Creates (or dry-runs) an object; returns the object the API server stored and its warnings. */
export async function create(
  cp: Kubectl,
  obj: unknown,
  extra: readonly string[] = [],
): Promise<{ code: number; stored?: Obj; stderr: string; warnings: string[] }> {
  const r = await cp.kubectl(['create', '-f', '-', '-o', 'json', ...extra], JSON.stringify(obj));
  const warnings = r.stderr
    .split('\n')
    .filter((l) => l.startsWith('Warning: '))
    .map((l) => l.slice('Warning: '.length));
  return r.code === 0
    ? { code: 0, stored: JSON.parse(r.stdout) as Obj, stderr: r.stderr, warnings }
    : { code: r.code, stderr: r.stderr, warnings };
}

export async function createOk(cp: Kubectl, obj: unknown, extra: readonly string[] = []): Promise<Obj> {
  const r = await create(cp, obj, extra);
  if (r.stored === undefined) throw new Error(`create was refused: ${r.stderr}`);
  return r.stored;
}

export async function getJson(cp: Kubectl, args: readonly string[]): Promise<Obj> {
  return JSON.parse(await cp.kubectlOk(['get', ...args, '-o', 'json'])) as Obj;
}

export async function apply(cp: Kubectl, objs: readonly unknown[]): Promise<void> {
  await cp.kubectlOk(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objs }));
}

/** Polls every `everyMs` until `fn` returns a value (not undefined) or the bound passes. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  boundMs = 20_000,
  everyMs = 100,
): Promise<T> {
  const until = Date.now() + boundMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`${what}: not within ${boundMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

const UID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * A stored object with what changes from run to run replaced: server-set identity and times,
 * generated name suffixes, the ServiceAccount token volume's random suffix, UIDs wherever they
 * appear (owner references, Job labels).
 */
export function normalise(obj: Obj): Obj {
  const o = structuredClone(obj);
  const meta = (o.metadata ?? {}) as Record<string, unknown>;
  for (const k of ['uid', 'resourceVersion', 'creationTimestamp', 'managedFields', 'generation']) delete meta[k];
  if (typeof meta['generateName'] === 'string') meta['name'] = `${meta['generateName']}<generated>`;
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') {
      if (UID.test(v)) return '<uid>';
      return v.replace(/kube-api-access-[a-z0-9]{5}/g, 'kube-api-access-<random>');
    }
    if (Array.isArray(v)) return v.map(walk);
    if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  const out = walk(o) as Obj;
  // Pods of a ReplicaSet carry its generated name and template hash: stable for one template,
  // but they say nothing the rest of the object does not.
  const m = out.metadata as Record<string, unknown>;
  const labels = m['labels'] as Record<string, string> | undefined;
  const hash = labels?.['pod-template-hash'];
  return hash === undefined ? out : (JSON.parse(JSON.stringify(out).replaceAll(hash, '<hash>')) as Obj);
}

/** Compares with a YAML golden file (as data, not text), or rewrites it with UPDATE_GOLDEN=1. */
export async function expectGoldenYaml(file: string, obj: unknown): Promise<void> {
  await expectGolden(file, stringify(obj, { lineWidth: 0 }), (actual, expected) =>
    expect(parse(actual)).toEqual(parse(expected)),
  );
}

/**
 * `expected` ⊆ `actual`: every field of `expected` is in `actual` with the same value; objects in
 * `actual` may have more fields (the API server's defaults). Arrays must have the same length,
 * except that `ignore` names array elements (by `name`) that `actual` may have in addition.
 * Returns the JSON paths that differ.
 */
export function notContained(expected: unknown, actual: unknown, ignore: (name: string) => boolean, at = ''): string[] {
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return [`${at}: expected an array, stored ${JSON.stringify(actual)}`];
    const kept = actual.filter(
      (a) =>
        !(
          typeof a === 'object' &&
          a !== null &&
          typeof (a as { name?: unknown }).name === 'string' &&
          ignore((a as { name: string }).name)
        ),
    );
    if (kept.length !== expected.length)
      return [`${at}: expected ${expected.length} items, stored ${kept.length}: ${JSON.stringify(kept).slice(0, 300)}`];
    return expected.flatMap((e, i) => notContained(e, kept[i], ignore, `${at}/${i}`));
  }
  if (typeof expected === 'object' && expected !== null) {
    if (typeof actual !== 'object' || actual === null)
      return [`${at}: expected an object, stored ${JSON.stringify(actual)}`];
    return Object.entries(expected).flatMap(([k, v]) =>
      notContained(v, (actual as Record<string, unknown>)[k], ignore, `${at}/${k}`),
    );
  }
  return expected === actual ? [] : [`${at}: expected ${JSON.stringify(expected)}, stored ${JSON.stringify(actual)}`];
}

/** Waits for a CLI child's `listening` line, failing with its stderr if it exits first. */
export async function listening(s: ChildShim, what: string): Promise<{ url: string; admin: string }> {
  const exited = s.exited.then(({ code }) => {
    throw new Error(`${what} exited ${code}: ${s.stderr.join('')}${s.stdout.slice(-5).join('\n')}`);
  });
  return Promise.race([s.listening, exited]);
}

export async function stopChild(s: ChildShim | undefined): Promise<void> {
  if (s === undefined || s.child.exitCode !== null || s.child.signalCode !== null) return;
  s.child.kill('SIGTERM');
  const t = setTimeout(() => s.child.kill('SIGKILL'), 10_000);
  await s.exited;
  clearTimeout(t);
}

/**
 * Installs the published CRDs of Flux, prometheus-operator and cert-manager (test/crds, pinned in
 * published.txt): the chart's optional objects and deploy/'s Flux objects are dry-run against the
 * schemas their controllers really serve. Server-side apply: the largest CRDs (Prometheus,
 * Alertmanager) exceed the 256 KiB last-applied annotation of a client-side apply.
 */
export async function installPublishedCrds(cp: Kubectl): Promise<string[]> {
  const files = publishedCrdFiles();
  const out = await cp.kubectlOk([
    'apply',
    '--server-side',
    '--field-manager=auth-shim-test',
    ...files.flatMap((f) => ['-f', f]),
    '-o',
    'name',
  ]);
  const names = out.trim().split('\n');
  await cp.kubectlOk(['wait', '--for=condition=Established', '--timeout=60s', ...names]);
  return names;
}
