import { unknownFields } from '../injector/_helpers.js';

/**
 * Validates one rendered Kubernetes object against the schemas of maintained packages:
 * `kubernetes-models` for built-in kinds (plus the unknown-field walk over @kubernetes/client-node's
 * models, because those schemas accept unknown fields), `@kubernetes-models/prometheus-operator`,
 * `@kubernetes-models/cert-manager` and `@kubernetes-models/flux-cd` for CRDs.
 */

type Obj = Record<string, unknown> & { apiVersion?: string; kind?: string };
interface Model {
  validate(): void;
}
type ModelClass = new (data: Obj) => Model;

/**
 * Flux's GA APIs that the installed @kubernetes-models/flux-cd (2.3.x) predates, mapped to the
 * newest schema it has. `helm.toolkit.fluxcd.io/v2` is v2beta2 with deprecated fields removed and
 * `source.toolkit.fluxcd.io/v1` HelmRepository/OCIRepository are v1beta2 promoted unchanged, so a
 * manifest valid against v2/v1 that uses no removed field validates against these.
 */
const FLUX_PROMOTED: Record<string, string> = {
  'helm.toolkit.fluxcd.io/v2': 'helm.toolkit.fluxcd.io/v2beta2',
  'source.toolkit.fluxcd.io/v1/HelmRepository': 'source.toolkit.fluxcd.io/v1beta2',
  'source.toolkit.fluxcd.io/v1/OCIRepository': 'source.toolkit.fluxcd.io/v1beta2',
};

function modulePath(apiVersion: string, kind: string): { path: string; apiVersion: string } | undefined {
  const promoted = FLUX_PROMOTED[`${apiVersion}/${kind}`] ?? FLUX_PROMOTED[apiVersion] ?? apiVersion;
  const [group, version] = promoted.includes('/') ? promoted.split('/') : ['', promoted];
  if (group === undefined || version === undefined) return undefined;
  if (group.endsWith('fluxcd.io')) return { path: `@kubernetes-models/flux-cd/${group}/${version}/${kind}`, apiVersion: promoted };
  if (group === 'monitoring.coreos.com') return { path: `@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`, apiVersion: promoted };
  if (group === 'cert-manager.io') return { path: `@kubernetes-models/cert-manager/${group}/${version}/${kind}`, apiVersion: promoted };
  return { path: `kubernetes-models/${group === '' ? '' : `${group}/`}${version}/${kind}`, apiVersion: promoted };
}

const BUILT_IN = /^(v1|apps\/v1|batch\/v1|policy\/v1|rbac\.authorization\.k8s\.io\/v1|admissionregistration\.k8s\.io\/v1|networking\.k8s\.io\/v1|autoscaling\/v2)$/;

/** Every problem with `obj`, as `Kind/name: message` lines; empty when it is valid. */
export async function manifestProblems(obj: Obj): Promise<string[]> {
  const { apiVersion, kind } = obj;
  const meta = obj['metadata'] as { name?: string } | undefined;
  const where = `${kind ?? '?'}/${meta?.name ?? '?'}`;
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') return [`${where}: apiVersion and kind are required`];
  const target = modulePath(apiVersion, kind);
  if (target === undefined) return [`${where}: cannot parse apiVersion ${apiVersion}`];
  let Model: ModelClass;
  try {
    const mod = (await import(target.path)) as Record<string, ModelClass>;
    const found = mod[kind];
    if (found === undefined) return [`${where}: no schema for ${apiVersion} ${kind} in ${target.path}`];
    Model = found;
  } catch (err) {
    return [`${where}: no schema for ${apiVersion} ${kind} (${(err as Error).message})`];
  }
  const problems: string[] = [];
  try {
    new Model({ ...obj, apiVersion: target.apiVersion }).validate();
  } catch (err) {
    problems.push(`${where}: ${(err as Error).message}`);
  }
  if (BUILT_IN.test(apiVersion)) {
    for (const field of unknownFields(obj, `V${apiVersion.split('/').pop()?.slice(1) ?? '1'}${kind}`)) problems.push(`${where}: unknown field ${field}`);
  }
  return problems;
}
