import { quoteValue } from '../credentials/token.js';
import jsonpatch from 'fast-json-patch';
import { ConfigError } from '../config/options.js';
import { httpUrl } from '../config/parsers.js';
import { loadProxyConfig } from '../config/proxy-config.js';
import type { CredentialSource } from '../proxy/translate.js';
import { ANNOTATIONS, STATUS_INJECTED } from './annotations.js';
import { isSecretKey, isSecretName } from '../config/kube-names.js';
import type { InjectorConfig } from './config.js';
import { appendAll, pointer, prependAll, setKeys, type PatchOperation } from './patch.js';
import {
  BASE_URL_ENV,
  baseUrl,
  CREDENTIAL_ENVS,
  PLACEHOLDER_API_KEY,
  SIDECAR_NAME,
  SLOT_DIR,
  sidecarContainer,
  sidecarEnv,
  sidecarVolumes,
  type SecretMount,
  type SecretSlot,
  type SidecarSettings,
} from './sidecar.js';

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
  | { readonly outcome: 'injected'; readonly pod: Record<string, unknown>; readonly patch: PatchOperation[]; readonly warnings: string[] }
  /** Nothing to do. `warn`: injection was asked for, so the reason goes back as a warning. */
  | { readonly outcome: 'skipped'; readonly reason: string; readonly warn: boolean }
  /** The pod asked for injection with annotations that cannot be honoured: refuse it, fail closed. */
  | { readonly outcome: 'invalid'; readonly problems: string[] };

type Obj = Record<string, unknown>;

const PROTECTED_NAMESPACES = ['kube-system'];
const SOURCES: readonly CredentialSource[] = ['client-first', 'shim-only', 'client-only'];

const SECRET_ANNOTATIONS: Record<SecretSlot, { annotation: string; name: keyof InjectorConfig; key: keyof InjectorConfig }> = {
  oauth: { annotation: ANNOTATIONS.oauthTokenSecret, name: 'oauthTokenSecret', key: 'oauthTokenSecretKey' },
  apiKey: { annotation: ANNOTATIONS.apiKeySecret, name: 'apiKeySecret', key: 'apiKeySecretKey' },
  litellmKey: { annotation: ANNOTATIONS.litellmKeySecret, name: 'litellmKeySecret', key: 'litellmKeySecretKey' },
};

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function skip(reason: string, warn = true): Mutation {
  return { outcome: 'skipped', reason, warn };
}

function stringMap(v: unknown): Record<string, string> | undefined {
  if (!isObj(v)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) if (typeof val === 'string') out[k] = val;
  return out;
}

function containerList(v: unknown): Obj[] | undefined {
  return Array.isArray(v) && v.every((c) => isObj(c) && typeof c['name'] === 'string') ? (v as Obj[]) : undefined;
}

function envNames(c: Obj): Set<string> {
  const env = Array.isArray(c['env']) ? c['env'] : [];
  return new Set(env.filter(isObj).map((e) => e['name']).filter((n): n is string => typeof n === 'string'));
}

function declaredPorts(c: Obj): number[] {
  const ports = Array.isArray(c['ports']) ? c['ports'] : [];
  return ports.filter(isObj).map((p) => p['containerPort']).filter((p): p is number => typeof p === 'number');
}

export function mutate(input: MutationInput): Mutation {
  const { pod, config } = input;
  if (!isObj(pod) || !isObj(pod['spec'])) return skip('not a pod: no spec');
  const metadata = isObj(pod['metadata']) ? pod['metadata'] : undefined;
  const annotations = stringMap(metadata?.['annotations']) ?? {};
  const spec = pod['spec'];
  const containers = containerList(spec['containers']);
  const initContainers = spec['initContainers'] === undefined ? [] : containerList(spec['initContainers']);
  if (containers === undefined || containers.length === 0 || initContainers === undefined) {
    return skip('not a valid pod: spec.containers must be a non-empty list of named containers');
  }

  if (annotations[ANNOTATIONS.status] !== undefined) return skip(`already injected (${ANNOTATIONS.status}: ${annotations[ANNOTATIONS.status]})`, false);

  const inject = annotations[ANNOTATIONS.inject];
  if (inject !== undefined && inject !== 'true' && inject !== 'false') {
    return { outcome: 'invalid', problems: [`${ANNOTATIONS.inject} must be "true" or "false", got ${quoteValue(inject)}`] };
  }
  if (inject === 'false') return skip(`${ANNOTATIONS.inject} is "false"`, input.namespaceOptedIn);
  if (inject !== 'true' && !input.namespaceOptedIn) return skip('injection not requested', false);

  if (PROTECTED_NAMESPACES.includes(input.namespace)) return skip(`pods in ${input.namespace} are never injected`);
  if (config.namespace !== undefined && input.namespace === config.namespace) {
    return skip(`pods in the injector's own namespace ${input.namespace} are never injected`);
  }
  if (spec['hostNetwork'] === true) {
    return skip(`hostNetwork: the sidecar's ports ${config.sidecarPort} and ${config.sidecarAdminPort} would be bound on the node and clash between pods`);
  }
  const all = [...initContainers, ...containers];
  if (all.some((c) => c['name'] === SIDECAR_NAME)) return skip(`a container named ${SIDECAR_NAME} already exists`);
  const clash = all.find((c) => declaredPorts(c).some((p) => p === config.sidecarPort || p === config.sidecarAdminPort));
  if (clash !== undefined) {
    return skip(`container ${String(clash['name'])} declares port ${config.sidecarPort} or ${config.sidecarAdminPort}, which the sidecar uses`);
  }

  const resolved = resolveSettings(annotations, config, containers, spec);
  if ('problems' in resolved) return { outcome: 'invalid', problems: resolved.problems };
  if ('skip' in resolved) return skip(resolved.skip);
  const { settings, targets } = resolved;

  const warnings: string[] = [];
  if (!settings.native && (spec['restartPolicy'] === 'Never' || spec['restartPolicy'] === 'OnFailure')) {
    warnings.push(`classic sidecar in a pod with restartPolicy ${String(spec['restartPolicy'])}: the pod never completes while the sidecar runs; use ${ANNOTATIONS.nativeSidecar}: "true"`);
  }

  const patch: PatchOperation[] = [];
  const kept: string[] = [];
  containers.forEach((c, i) => {
    if (!targets.includes(c['name'] as string)) return;
    const names = envNames(c);
    const add: { name: string; value: string }[] = [];
    if (names.has(BASE_URL_ENV)) kept.push(c['name'] as string);
    else add.push({ name: BASE_URL_ENV, value: baseUrl(settings) });
    if (settings.credentialSource === 'shim-only' && !CREDENTIAL_ENVS.some((n) => names.has(n))) {
      add.push({ name: 'ANTHROPIC_API_KEY', value: PLACEHOLDER_API_KEY });
    }
    const env = Array.isArray(c['env']) ? c['env'] : undefined;
    patch.push(...appendAll(pointer('spec', 'containers', i, 'env'), env, add));
  });
  if (kept.length > 0) {
    warnings.push(`${BASE_URL_ENV} already set in ${kept.join(', ')}: left unchanged, so ${kept.length === 1 ? 'that container does' : 'those containers do'} not use the sidecar`);
  }

  const sidecar = sidecarContainer(settings);
  if (settings.native) patch.push(...prependAll(pointer('spec', 'initContainers'), spec['initContainers'] as unknown[] | undefined, [sidecar]));
  else patch.push(...appendAll(pointer('spec', 'containers'), containers, [sidecar]));
  patch.push(...appendAll(pointer('spec', 'volumes'), Array.isArray(spec['volumes']) ? spec['volumes'] : undefined, sidecarVolumes(settings)));

  const marks: Record<string, string> = { [ANNOTATIONS.status]: STATUS_INJECTED };
  if (kept.length > 0) marks[ANNOTATIONS.baseUrlKept] = kept.join(',');
  if (metadata === undefined) patch.push({ op: 'add', path: pointer('metadata'), value: { annotations: marks } });
  else patch.push(...setKeys(pointer('metadata', 'annotations'), isObj(metadata['annotations']) ? (metadata['annotations'] as Record<string, string>) : undefined, marks));

  // The pod is the patch applied, never built separately: what `inject` writes and what the API
  // server makes of the webhook's answer are the same object by construction.
  const injected = jsonpatch.applyPatch(pod, patch, true, false).newDocument;
  return { outcome: 'injected', pod: injected, patch, warnings };
}

type Resolved = { settings: SidecarSettings; targets: string[] } | { problems: string[] } | { skip: string };

/** Annotations over config defaults; every bad annotation is reported, not just the first. */
function resolveSettings(annotations: Record<string, string>, config: InjectorConfig, containers: Obj[], spec: Obj): Resolved {
  const problems: string[] = [];

  let upstream: string | undefined = config.defaultUpstreamUrl?.href;
  const upstreamAnnotation = annotations[ANNOTATIONS.upstream];
  if (upstreamAnnotation !== undefined) {
    const parsed = httpUrl(upstreamAnnotation, ANNOTATIONS.upstream);
    if ('problem' in parsed) problems.push(parsed.problem);
    else upstream = parsed.value.href;
  }

  let credentialSource: CredentialSource = config.defaultCredentialSource;
  const sourceAnnotation = annotations[ANNOTATIONS.credentialSource];
  if (sourceAnnotation !== undefined) {
    if ((SOURCES as readonly string[]).includes(sourceAnnotation)) credentialSource = sourceAnnotation as CredentialSource;
    else problems.push(`${ANNOTATIONS.credentialSource} must be one of ${SOURCES.join(', ')}, got ${quoteValue(sourceAnnotation)}`);
  }

  let native = config.defaultNativeSidecar;
  const nativeAnnotation = annotations[ANNOTATIONS.nativeSidecar];
  if (nativeAnnotation !== undefined) {
    if (nativeAnnotation === 'true' || nativeAnnotation === 'false') native = nativeAnnotation === 'true';
    else problems.push(`${ANNOTATIONS.nativeSidecar} must be "true" or "false", got ${quoteValue(nativeAnnotation)}`);
  }

  const appNames = containers.map((c) => c['name'] as string);
  let targets = appNames;
  const containersAnnotation = annotations[ANNOTATIONS.containers];
  if (containersAnnotation !== undefined) {
    targets = containersAnnotation.split(',').map((s) => s.trim()).filter((s) => s !== '');
    const unknown = targets.filter((t) => !appNames.includes(t));
    if (targets.length === 0) problems.push(`${ANNOTATIONS.containers} must name at least one container`);
    if (unknown.length > 0) problems.push(`${ANNOTATIONS.containers} names ${unknown.join(', ')}, not among the pod's containers (${appNames.join(', ')})`);
  }

  const taken = new Set((Array.isArray(spec['volumes']) ? spec['volumes'] : []).filter(isObj).map((v) => v['name']));
  const secrets: SecretMount[] = [];
  for (const slot of ['oauth', 'apiKey', 'litellmKey'] as const) {
    const { annotation, name, key } = SECRET_ANNOTATIONS[slot];
    // Client-only never uses the shim's Anthropic credential: mounting it would only widen exposure.
    if (credentialSource === 'client-only' && slot !== 'litellmKey') continue;
    let secretName = config[name] as string | undefined;
    let secretKey = config[key] as string;
    const raw = annotations[annotation];
    if (raw !== undefined) {
      const [n = '', k, ...rest] = raw.split('/');
      if (raw === '') secretName = undefined;
      else if (!isSecretName(n) || rest.length > 0 || (k !== undefined && !isSecretKey(k))) {
        problems.push(`${annotation} must be a Secret name or name/key, got ${quoteValue(raw)}`);
        continue;
      } else {
        secretName = n;
        if (k !== undefined) secretKey = k;
      }
    }
    if (secretName === undefined) continue;
    let volumeName = `${SIDECAR_NAME}-${SLOT_DIR[slot]}`;
    for (let i = 2; taken.has(volumeName); i++) volumeName = `${SIDECAR_NAME}-${SLOT_DIR[slot]}-${i}`;
    taken.add(volumeName);
    secrets.push({ slot, secretName, key: secretKey, volumeName });
  }

  if (credentialSource === 'shim-only' && !secrets.some((s) => s.slot !== 'litellmKey')) {
    problems.push(`credential source shim-only needs an OAuth token or API key Secret (${ANNOTATIONS.oauthTokenSecret}, ${ANNOTATIONS.apiKeySecret}, or the injector's AUTH_SHIM_OAUTH_TOKEN_SECRET / AUTH_SHIM_API_KEY_SECRET)`);
  }
  if (problems.length > 0) return { problems };
  if (upstream === undefined) return { skip: `no upstream: set ${ANNOTATIONS.upstream} or the injector's AUTH_SHIM_DEFAULT_UPSTREAM_URL` };

  const settings: SidecarSettings = {
    image: config.sidecarImage,
    imagePullPolicy: config.sidecarImagePullPolicy,
    upstream,
    credentialSource,
    native,
    secrets,
    port: config.sidecarPort,
    adminPort: config.sidecarAdminPort,
    cpuRequest: config.cpuRequest,
    cpuLimit: config.cpuLimit,
    memoryRequest: config.memoryRequest,
    memoryLimit: config.memoryLimit,
    logLevel: config.sidecarLogLevel,
  };
  // The sidecar must start: its environment goes through the proxy's own loader, so a setting
  // the proxy would reject is refused here, at admission, where the author sees it.
  const sidecarProblems = proxyProblems(settings);
  if (sidecarProblems.length > 0) return { problems: sidecarProblems.map((p) => `the sidecar would not start: ${p}`) };
  return { settings, targets };
}

function proxyProblems(settings: SidecarSettings): string[] {
  const env: Record<string, string> = {};
  for (const e of sidecarEnv(settings)) if (e.value !== undefined) env[e.name] = e.value;
  try {
    loadProxyConfig(env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
}
