import { quoteValue } from '../vocabulary/redaction.js';
import { ConfigError } from '../config/options.js';
import { httpUrl } from '../config/parsers.js';
import { loadProxyConfig } from '../config/proxy-config.js';
import { ANNOTATIONS } from './annotations.js';
import { resolveFederation } from './federation.js';
import { isSecretKey, isSecretName } from '../config/kube-names.js';
import type { InjectorConfig } from './config.js';
import { SIDECAR_NAME, SLOT_DIR, sidecarEnv, type SecretMount, type SidecarSettings } from './sidecar.js';
import {
  CREDENTIAL_SOURCE_POLICIES,
  type CredentialSlot,
  type CredentialSourcePolicy,
} from '../vocabulary/credentials.js';
import { isObject } from '../vocabulary/guards.js';

/**
 * The sidecar's settings for one pod: annotations over the injector's defaults, every bad annotation
 * reported (not just the first), and the resulting environment run through the proxy's own loader.
 */

type Obj = Record<string, unknown>;

const SECRET_ANNOTATIONS: Record<
  CredentialSlot,
  { annotation: string; name: keyof InjectorConfig; key: keyof InjectorConfig }
> = {
  oauth: { annotation: ANNOTATIONS.oauthTokenSecret, name: 'oauthTokenSecret', key: 'oauthTokenSecretKey' },
  apiKey: { annotation: ANNOTATIONS.apiKeySecret, name: 'apiKeySecret', key: 'apiKeySecretKey' },
  litellmKey: { annotation: ANNOTATIONS.litellmKeySecret, name: 'litellmKeySecret', key: 'litellmKeySecretKey' },
};

export type Resolved = { settings: SidecarSettings; targets: string[] } | { problems: string[] } | { skip: string };

/** Annotations over config defaults; every bad annotation is reported, not just the first. */
export function resolveSettings(
  annotations: Record<string, string>,
  config: InjectorConfig,
  containers: Obj[],
  spec: Obj,
): Resolved {
  const problems: string[] = [];

  let upstream: string | undefined = config.defaultUpstreamUrl?.href;
  const upstreamAnnotation = annotations[ANNOTATIONS.upstream];
  if (upstreamAnnotation !== undefined) {
    const parsed = httpUrl(upstreamAnnotation, ANNOTATIONS.upstream);
    if ('problem' in parsed) problems.push(parsed.problem);
    else upstream = parsed.value.href;
  }

  let credentialSource: CredentialSourcePolicy = config.defaultCredentialSource;
  const sourceAnnotation = annotations[ANNOTATIONS.credentialSource];
  if (sourceAnnotation !== undefined) {
    if ((CREDENTIAL_SOURCE_POLICIES as readonly string[]).includes(sourceAnnotation))
      credentialSource = sourceAnnotation as CredentialSourcePolicy;
    else
      problems.push(
        `${ANNOTATIONS.credentialSource} must be one of ${CREDENTIAL_SOURCE_POLICIES.join(', ')}, got ` +
          `${quoteValue(sourceAnnotation)}`,
      );
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
    targets = containersAnnotation
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    const unknown = targets.filter((t) => !appNames.includes(t));
    if (targets.length === 0) problems.push(`${ANNOTATIONS.containers} must name at least one container`);
    if (unknown.length > 0)
      problems.push(
        `${ANNOTATIONS.containers} names ${unknown.join(', ')}, not among the pod's containers ` +
          `(${appNames.join(', ')})`,
      );
  }

  const { ruleId, settings: federation } = resolveFederation(annotations, config, problems);
  if (ruleId !== undefined) {
    if (credentialSource === 'client-only') {
      problems.push(
        `${ANNOTATIONS.federationRuleId} with credential source client-only: federation is the sidecar's own ` +
          'credential, which client-only never uses; choose client-first or shim-only, or set ' +
          `${ANNOTATIONS.federationRuleId}: ""`,
      );
    }
    const oauthAnnotation = annotations[ANNOTATIONS.oauthTokenSecret];
    if (oauthAnnotation !== undefined && oauthAnnotation !== '') {
      problems.push(
        `${ANNOTATIONS.oauthTokenSecret} with federation rule ${ruleId}: the federated token takes the sidecar's ` +
          `OAuth slot; remove one (${ANNOTATIONS.federationRuleId}: "" leaves federation)`,
      );
    }
  }

  const taken = new Set((Array.isArray(spec['volumes']) ? spec['volumes'] : []).filter(isObject).map((v) => v['name']));
  const secrets: SecretMount[] = [];
  for (const slot of ['oauth', 'apiKey', 'litellmKey'] as const) {
    const { annotation, name, key } = SECRET_ANNOTATIONS[slot];
    // Client-only never uses the shim's Anthropic credential: mounting it would only widen exposure.
    if (credentialSource === 'client-only' && slot !== 'litellmKey') continue;
    // Federation fills the OAuth slot: the injector's default OAuth Secret is not mounted next to it.
    if (ruleId !== undefined && slot === 'oauth') continue;
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
    secrets.push({
      slot,
      secretName,
      key: secretKey,
      volumeName: freeName(`${SIDECAR_NAME}-${SLOT_DIR[slot]}`, taken),
    });
  }

  const accept = annotations[ANNOTATIONS.acceptSharedProcessNamespace];
  if (accept !== undefined && accept !== 'true' && accept !== 'false') {
    problems.push(`${ANNOTATIONS.acceptSharedProcessNamespace} must be "true" or "false", got ${quoteValue(accept)}`);
  } else if (credentialSource === 'shim-only' && spec['shareProcessNamespace'] === true && accept !== 'true') {
    // shim-only promises that the agent never holds the credentials; a shared process namespace
    // breaks that promise, so it takes an explicit, reviewable opt-in (issue 15).
    problems.push(
      "shareProcessNamespace: true with credential source shim-only: the agent's containers could reach the " +
        "sidecar's credentials through the shared process namespace; set " +
        `${ANNOTATIONS.acceptSharedProcessNamespace}: "true" to accept that, or drop shareProcessNamespace`,
    );
  }
  if (credentialSource === 'shim-only' && ruleId === undefined && !secrets.some((s) => s.slot !== 'litellmKey')) {
    problems.push(
      `credential source shim-only needs an OAuth token or API key Secret (${ANNOTATIONS.oauthTokenSecret}, ` +
        `${ANNOTATIONS.apiKeySecret}, or the injector's AUTH_SHIM_OAUTH_TOKEN_SECRET / AUTH_SHIM_API_KEY_SECRET) or ` +
        `a federation rule (${ANNOTATIONS.federationRuleId})`,
    );
  }
  if (problems.length > 0) return { problems };
  if (upstream === undefined)
    return { skip: `no upstream: set ${ANNOTATIONS.upstream} or the injector's AUTH_SHIM_DEFAULT_UPSTREAM_URL` };

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
    // The injected sidecar always reads its credentials from files (never AUTH_SHIM_SECRET), so it
    // has no use for the pod's API token; a volume name the pod does not use yet.
    serviceAccountMask: freeName(`${SIDECAR_NAME}-no-api-token`, taken),
    federation:
      federation === undefined
        ? undefined
        : { ...federation, volumeName: freeName(`${SIDECAR_NAME}-identity-token`, taken) },
  };
  // The sidecar must start: its environment goes through the proxy's own loader, so a setting
  // the proxy would reject is refused here, at admission, where the author sees it.
  const sidecarProblems = proxyProblems(settings);
  if (sidecarProblems.length > 0) return { problems: sidecarProblems.map((p) => `the sidecar would not start: ${p}`) };
  return { settings, targets };
}

/** `base`, or `base-2`, `base-3`, … — the first name not in `taken`, which it joins. */
function freeName(base: string, taken: Set<unknown>): string {
  let name = base;
  for (let i = 2; taken.has(name); i++) name = `${base}-${i}`;
  taken.add(name);
  return name;
}

function proxyProblems(settings: SidecarSettings): string[] {
  const env: Record<string, string> = {};
  for (const e of sidecarEnv(settings)) if (e.value !== undefined) env[e.name] = e.value;
  try {
    // The files it names (the projected identity token) are mounted by the kubelet later, into the pod.
    loadProxyConfig(env, [], { checkFiles: false });
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
}
