import { quoteValue } from '../vocabulary/redaction.js';
import jsonpatch from 'fast-json-patch';
import { ANNOTATIONS, STATUS_INJECTED } from './annotations.js';
import { deeperThan, MAX_POD_DEPTH } from './depth.js';
import type { InjectorConfig } from './config.js';
import { appendAll, pointer, prependAll, setKeys, type PatchOperation } from './patch.js';
import {
  BASE_URL_ENV,
  baseUrl,
  CREDENTIAL_ENVS,
  PLACEHOLDER_API_KEY,
  SIDECAR_NAME,
  sidecarContainer,
  sidecarVolumes,
} from './sidecar.js';
import { isObject } from '../vocabulary/guards.js';
import type { SkipCode } from './skip-reasons.js';
import { resolveSettings } from './resolve-settings.js';

/**
 * The pure pod mutation: pod + namespace + injector config → the injected pod and the JSON Patch
 * between them, or why nothing was done. No I/O: the webhook and `auth-shim inject` call it
 * alike, so they cannot disagree.
 */

export interface MutationInput {
  /** A Pod, or a pod template (`{ metadata, spec }`) from a workload. */
  readonly pod: unknown;
  /** `request.namespace` for a review (the pod's own may be empty), else the manifest's. */
  readonly namespace: string;
  /** The namespace carries `auth-shim.io/inject=enabled`. */
  readonly namespaceOptedIn: boolean;
  readonly config: InjectorConfig;
}

export type Mutation =
  | {
      readonly outcome: 'injected';
      readonly pod: Record<string, unknown>;
      readonly patch: PatchOperation[];
      readonly warnings: string[];
    }
  /** Nothing to do. `warn`: injection was asked for, so the reason goes back as a warning. */
  | { readonly outcome: 'skipped'; readonly code: SkipCode; readonly reason: string; readonly warn: boolean }
  /** The pod asked for injection with annotations that cannot be honoured: refuse it, fail closed. */
  | { readonly outcome: 'invalid'; readonly problems: string[] };

type Obj = Record<string, unknown>;

/**
 * Never injected, whatever their labels or annotations: the cluster's own namespaces. kube-public
 * (world-readable, no workloads of its own) and kube-node-lease (Lease objects only) have no
 * agent pods; an injected pod there would only mean someone put one where it does not belong.
 */
export const PROTECTED_NAMESPACES: readonly string[] = ['kube-system', 'kube-public', 'kube-node-lease'];

function skip(code: SkipCode, reason: string, warn = true): Mutation {
  return { outcome: 'skipped', code, reason, warn };
}

function stringMap(v: unknown): Record<string, string> | undefined {
  if (!isObject(v)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) if (typeof val === 'string') out[k] = val;
  return out;
}

function containerList(v: unknown): Obj[] | undefined {
  return Array.isArray(v) && v.every((c) => isObject(c) && typeof c['name'] === 'string') ? (v as Obj[]) : undefined;
}

function envNames(c: Obj): Set<string> {
  const env = Array.isArray(c['env']) ? c['env'] : [];
  return new Set(
    env
      .filter(isObject)
      .map((e) => e['name'])
      .filter((n): n is string => typeof n === 'string'),
  );
}

function declaredPorts(c: Obj): number[] {
  const ports = Array.isArray(c['ports']) ? c['ports'] : [];
  return ports
    .filter(isObject)
    .map((p) => p['containerPort'])
    .filter((p): p is number => typeof p === 'number');
}

export function mutate(input: MutationInput): Mutation {
  const { pod, config } = input;
  if (!isObject(pod) || !isObject(pod['spec'])) return skip('no_pod_spec', 'not a pod: no spec');
  // Before anything recursive touches the pod: no real pod nests this deep, so it is refused
  // rather than half-inspected.
  if (deeperThan(pod, MAX_POD_DEPTH))
    return {
      outcome: 'invalid',
      problems: [`the pod nests more than ${MAX_POD_DEPTH} levels deep; no valid pod does`],
    };
  const metadata = isObject(pod['metadata']) ? pod['metadata'] : undefined;
  const annotations = stringMap(metadata?.['annotations']) ?? {};
  const spec = pod['spec'];
  const containers = containerList(spec['containers']);
  const initContainers = spec['initContainers'] === undefined ? [] : containerList(spec['initContainers']);
  if (containers === undefined || containers.length === 0 || initContainers === undefined) {
    return skip('invalid_containers', 'not a valid pod: spec.containers must be a non-empty list of named containers');
  }

  const all = [...initContainers, ...containers];
  const status = annotations[ANNOTATIONS.status];
  const hasSidecar = all.some((c) => c['name'] === SIDECAR_NAME);
  if (status === STATUS_INJECTED && hasSidecar)
    return skip('already_injected', `already injected (${ANNOTATIONS.status}: ${STATUS_INJECTED})`, false);

  const inject = annotations[ANNOTATIONS.inject];
  if (inject !== undefined && inject !== 'true' && inject !== 'false') {
    return {
      outcome: 'invalid',
      problems: [`${ANNOTATIONS.inject} must be "true" or "false", got ${quoteValue(inject)}`],
    };
  }
  if (inject === 'false') return skip('injection_disabled', `${ANNOTATIONS.inject} is "false"`, input.namespaceOptedIn);
  if (inject !== 'true' && !input.namespaceOptedIn) return skip('not_requested', 'injection not requested', false);
  // Only the injector writes the status, and only with its sidecar: any other value (or the value
  // without the container) would let a pod in an opted-in namespace skip injection silently (issue 15).
  if (status !== undefined) {
    const found =
      status === STATUS_INJECTED
        ? `${ANNOTATIONS.status}: ${STATUS_INJECTED} without a container named ${SIDECAR_NAME}`
        : `${ANNOTATIONS.status}: ${quoteValue(status)}`;
    return {
      outcome: 'invalid',
      problems: [
        `${found}; only the injector writes this annotation (value "${STATUS_INJECTED}", with its sidecar): remove it`,
      ],
    };
  }

  if (PROTECTED_NAMESPACES.includes(input.namespace))
    return skip('protected_namespace', `pods in ${input.namespace} are never injected`);
  if (config.namespace !== undefined && input.namespace === config.namespace) {
    return skip('injector_namespace', `pods in the injector's own namespace ${input.namespace} are never injected`);
  }
  if (spec['hostNetwork'] === true) {
    return skip(
      'host_network',
      `hostNetwork: the sidecar's ports ${config.sidecarPort} and ${config.sidecarAdminPort} would be bound on the ` +
        'node and clash between pods',
    );
  }
  if (hasSidecar) return skip('sidecar_name_taken', `a container named ${SIDECAR_NAME} already exists`);
  const clash = all.find((c) =>
    declaredPorts(c).some((p) => p === config.sidecarPort || p === config.sidecarAdminPort),
  );
  if (clash !== undefined) {
    return skip(
      'port_clash',
      `container ${String(clash['name'])} declares port ${config.sidecarPort} or ${config.sidecarAdminPort}, which ` +
        'the sidecar uses',
    );
  }

  const resolved = resolveSettings(annotations, config, containers, spec);
  if ('problems' in resolved) return { outcome: 'invalid', problems: resolved.problems };
  if ('skip' in resolved) return skip('no_upstream', resolved.skip);
  const { settings, targets } = resolved;

  const warnings: string[] = [];
  if (spec['shareProcessNamespace'] === true) {
    warnings.push(
      'shareProcessNamespace: true lets every container of the pod signal the sidecar and read its credential ' +
        'files through /proc; the agent can reach the credentials',
    );
  }
  if (!settings.native && (spec['restartPolicy'] === 'Never' || spec['restartPolicy'] === 'OnFailure')) {
    warnings.push(
      `classic sidecar in a pod with restartPolicy ${String(spec['restartPolicy'])}: the pod never completes while ` +
        `the sidecar runs; use ${ANNOTATIONS.nativeSidecar}: "true"`,
    );
  }

  const patch: PatchOperation[] = [];
  const kept: string[] = [];
  containers.forEach((c, i) => {
    if (!targets.includes(c['name'] as string)) return;
    const names = envNames(c);
    const add: { name: string; value: string }[] = [];
    if (names.has(BASE_URL_ENV)) kept.push(c['name'] as string);
    else add.push({ name: BASE_URL_ENV, value: baseUrl(settings) });
    // A federated pod holds no credential either: the placeholder keeps clients that insist on a key
    // (Claude Code, the SDKs) starting, and the proxy never forwards it.
    const placeholder = settings.credentialSource === 'shim-only' || settings.federation !== undefined;
    if (placeholder && !CREDENTIAL_ENVS.some((n) => names.has(n))) {
      add.push({ name: 'ANTHROPIC_API_KEY', value: PLACEHOLDER_API_KEY });
    }
    const env = Array.isArray(c['env']) ? c['env'] : undefined;
    patch.push(...appendAll(pointer('spec', 'containers', i, 'env'), env, add));
  });
  if (kept.length > 0) {
    warnings.push(
      `${BASE_URL_ENV} already set in ${kept.join(', ')}: left unchanged, so ` +
        `${kept.length === 1 ? 'that container does' : 'those containers do'} not use the sidecar`,
    );
  }

  const sidecar = sidecarContainer(settings);
  if (settings.native)
    patch.push(
      ...prependAll(pointer('spec', 'initContainers'), spec['initContainers'] as unknown[] | undefined, [sidecar]),
    );
  else patch.push(...appendAll(pointer('spec', 'containers'), containers, [sidecar]));
  patch.push(
    ...appendAll(
      pointer('spec', 'volumes'),
      Array.isArray(spec['volumes']) ? spec['volumes'] : undefined,
      sidecarVolumes(settings),
    ),
  );

  const marks: Record<string, string> = { [ANNOTATIONS.status]: STATUS_INJECTED };
  if (kept.length > 0) marks[ANNOTATIONS.baseUrlKept] = kept.join(',');
  if (metadata === undefined) patch.push({ op: 'add', path: pointer('metadata'), value: { annotations: marks } });
  else
    patch.push(
      ...setKeys(
        pointer('metadata', 'annotations'),
        isObject(metadata['annotations']) ? (metadata['annotations'] as Record<string, string>) : undefined,
        marks,
      ),
    );

  // The pod is the patch applied, never built separately: what `inject` writes and what the API
  // server makes of the webhook's answer are the same object by construction.
  const injected = jsonpatch.applyPatch(pod, patch, true, false).newDocument;
  return { outcome: 'injected', pod: injected, patch, warnings };
}
