import { crdValidator, publishedGroups } from '../crds/crds.js';
import { unknownFields } from '../injector/_helpers.js';

/**
 * Validates one rendered Kubernetes object: built-in kinds against `kubernetes-models` (plus the
 * unknown-field walk over @kubernetes/client-node's models, because those schemas accept unknown
 * fields), custom resources against the published CRDs of Flux, prometheus-operator and cert-manager
 * (test/crds; test/controlplane dry-runs the same objects against them on the real API server).
 */

type Obj = Record<string, unknown> & { apiVersion?: string; kind?: string };
interface Model {
  validate(): void;
}
type ModelClass = new (data: Obj) => Model;

const BUILT_IN = new Set([
  'v1',
  'apps/v1',
  'batch/v1',
  'policy/v1',
  'rbac.authorization.k8s.io/v1',
  'admissionregistration.k8s.io/v1',
  'networking.k8s.io/v1',
  'autoscaling/v2',
]);

/** Every problem with `obj`, as `Kind/name: message` lines; empty when it is valid. */
export async function manifestProblems(obj: Obj): Promise<string[]> {
  const { apiVersion, kind } = obj;
  const meta = obj['metadata'] as { name?: string } | undefined;
  const where = `${kind ?? '?'}/${meta?.name ?? '?'}`;
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') return [`${where}: apiVersion and kind are required`];
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  if (group === undefined || version === undefined) return [`${where}: cannot parse apiVersion ${apiVersion}`];
  if (publishedGroups().has(group)) {
    const validate = crdValidator(apiVersion, kind);
    if (validate === undefined) return [`${where}: no published CRD serves ${apiVersion} ${kind}`];
    if (validate(obj)) return [];
    return (validate.errors ?? []).map(
      (e) =>
        `${where}: ${e.instancePath || '/'} ${e.message ?? ''}` +
        (e.keyword === 'additionalProperties' ? ` (${String(e.params['additionalProperty'])})` : ''),
    );
  }
  const path = `kubernetes-models/${group === '' ? '' : `${group}/`}${version}/${kind}`;
  let Model: ModelClass;
  try {
    const mod = (await import(path)) as Record<string, ModelClass>;
    const found = mod[kind];
    if (found === undefined) return [`${where}: no schema for ${apiVersion} ${kind} in ${path}`];
    Model = found;
  } catch (err) {
    return [`${where}: no schema for ${apiVersion} ${kind} (${(err as Error).message})`];
  }
  const problems: string[] = [];
  try {
    new Model(obj).validate();
  } catch (err) {
    problems.push(`${where}: ${(err as Error).message}`);
  }
  if (BUILT_IN.has(apiVersion)) {
    for (const field of unknownFields(obj, `V${apiVersion.split('/').pop()?.slice(1) ?? '1'}${kind}`))
      problems.push(`${where}: unknown field ${field}`);
  }
  return problems;
}
