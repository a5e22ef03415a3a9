import type { Parsed } from '../config/options.js';
import { httpUrl, ok, problem } from '../config/parsers.js';
import { PROXY_OPTIONS } from '../config/proxy-options.js';
import { quoteValue } from '../vocabulary/redaction.js';
import { ANNOTATIONS } from './annotations.js';

/**
 * Workload Identity Federation for an injected pod (issue 17): which annotations and injector
 * defaults select it, and the identifiers' shapes. A pod is in federation mode when it ends up
 * with a federation rule id; the sidecar then exchanges the kubelet's projected service-account
 * token for short-lived Anthropic tokens, and no Anthropic credential Secret exists.
 */

/** Anthropic's own audience for federated tokens (platform.claude.com, wif-providers/kubernetes). */
export const DEFAULT_IDENTITY_TOKEN_AUDIENCE = 'https://api.anthropic.com';
/** The Kubernetes guide's lifetime; the kubelet refreshes the file at 80 % of it. */
export const DEFAULT_IDENTITY_TOKEN_EXPIRATION_SECONDS = 3600;
/** The API server refuses a projected token shorter than 10 minutes (ValidateProjectedVolumeSource). */
export const MIN_EXPIRATION_SECONDS = 600;
/** The API server's upper bound for `expirationSeconds` (2^32). */
export const MAX_EXPIRATION_SECONDS = 2 ** 32;

// The identifiers' shapes are the proxy's own (PROXY_OPTIONS), so an annotation the injector accepts
// is one the sidecar accepts, by construction.
export const federationRuleId = PROXY_OPTIONS.federationRuleId.parse;
export const organizationId = PROXY_OPTIONS.organizationId.parse;
export const serviceAccountId = PROXY_OPTIONS.serviceAccountId.parse;
export const workspaceId = PROXY_OPTIONS.workspaceId.parse;

/** The JWT's `aud`: what the federation rule expects, an https URL such as Anthropic's own. */
export function identityTokenAudience(raw: string, env: string): Parsed<string> {
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  return url?.protocol === 'https:' && url.username === '' && url.password === '' && !/\s/.test(raw)
    ? ok(raw)
    : problem(`${env} must be an https URL such as ${DEFAULT_IDENTITY_TOKEN_AUDIENCE}, got ${quoteValue(raw)}`);
}

/**
 * Where the sidecar exchanges the token, when not the upstream + `/v1/oauth/token`
 * (e.g. a LiteLLM pass-through route).
 */
export function tokenUrl(raw: string, env: string): Parsed<string> {
  const parsed = httpUrl(raw, env);
  return 'problem' in parsed ? parsed : ok(parsed.value.href);
}

export function expirationSeconds(raw: string, env: string): Parsed<number> {
  const n = Number(raw);
  return /^\d+$/.test(raw) && n >= MIN_EXPIRATION_SECONDS && n <= MAX_EXPIRATION_SECONDS
    ? ok(n)
    : problem(
        `${env} must be a whole number of seconds from ${MIN_EXPIRATION_SECONDS} (the API server's minimum) to ` +
          `${MAX_EXPIRATION_SECONDS}, got ${quoteValue(raw)}`,
      );
}

/** What the sidecar needs for federation; the volume name is chosen by the mutation. */
export interface Federation {
  readonly ruleId: string;
  readonly organizationId: string;
  readonly serviceAccountId: string;
  readonly workspaceId: string | undefined;
  readonly audience: string;
  readonly expirationSeconds: number;
  /** The proxy's AUTH_SHIM_TOKEN_URL; undefined leaves its default. */
  readonly tokenUrl: string | undefined;
}

/** The injector's defaults for the federation annotations (INJECTOR_OPTIONS, `AUTH_SHIM_DEFAULT_…`). */
export interface FederationDefaults {
  readonly defaultFederationRuleId: string | undefined;
  readonly defaultOrganizationId: string | undefined;
  readonly defaultServiceAccountId: string | undefined;
  readonly defaultWorkspaceId: string | undefined;
  readonly defaultIdentityTokenAudience: string;
  readonly defaultIdentityTokenExpirationSeconds: number;
  readonly defaultTokenUrl: URL | undefined;
}

export const FEDERATION_ANNOTATIONS = [
  ANNOTATIONS.federationRuleId,
  ANNOTATIONS.organizationId,
  ANNOTATIONS.serviceAccountId,
  ANNOTATIONS.workspaceId,
  ANNOTATIONS.identityTokenAudience,
  ANNOTATIONS.identityTokenExpirationSeconds,
  ANNOTATIONS.tokenUrl,
] as const;

const INVALID = Symbol('invalid');

/**
 * One annotation over its default; INVALID (its problem recorded) when the annotation is malformed.
 * `""` clears an optional value (as `""` mounts no Secret), so a pod can leave federation that a
 * platform team made the default.
 */
function pick<T>(
  annotations: Record<string, string>,
  name: string,
  fallback: T | undefined,
  parse: (raw: string, env: string) => Parsed<T>,
  problems: string[],
  clearable = true,
): T | undefined | typeof INVALID {
  const raw = annotations[name];
  if (raw === undefined) return fallback;
  if (raw === '' && clearable) return undefined;
  const parsed = parse(raw, name);
  if ('problem' in parsed) {
    problems.push(parsed.problem);
    return INVALID;
  }
  return parsed.value;
}

/**
 * The pod's federation: `ruleId` whenever it ends up with a valid rule (federation mode, so the
 * caller can check what conflicts with it), `settings` only when nothing was wrong. Every problem
 * is collected: bad shapes, a rule without its organization or service account, federation
 * annotations on a pod that has no rule.
 */
export function resolveFederation(
  annotations: Record<string, string>,
  defaults: FederationDefaults,
  problems: string[],
): { ruleId: string | undefined; settings: Federation | undefined } {
  const before = problems.length;
  const ruleId = pick(
    annotations,
    ANNOTATIONS.federationRuleId,
    defaults.defaultFederationRuleId,
    federationRuleId,
    problems,
  );
  const org = pick(annotations, ANNOTATIONS.organizationId, defaults.defaultOrganizationId, organizationId, problems);
  const svac = pick(
    annotations,
    ANNOTATIONS.serviceAccountId,
    defaults.defaultServiceAccountId,
    serviceAccountId,
    problems,
  );
  const workspace = pick(annotations, ANNOTATIONS.workspaceId, defaults.defaultWorkspaceId, workspaceId, problems);
  const audience = pick(
    annotations,
    ANNOTATIONS.identityTokenAudience,
    defaults.defaultIdentityTokenAudience,
    identityTokenAudience,
    problems,
    false,
  );
  const expiration = pick(
    annotations,
    ANNOTATIONS.identityTokenExpirationSeconds,
    defaults.defaultIdentityTokenExpirationSeconds,
    expirationSeconds,
    problems,
    false,
  );
  const none = { ruleId: undefined, settings: undefined };
  const url = pick(annotations, ANNOTATIONS.tokenUrl, defaults.defaultTokenUrl?.href, tokenUrl, problems);
  if (ruleId === INVALID) return none;
  if (ruleId === undefined) {
    // Set on the pod with no rule to use them: the author expected federation and would not get it.
    const stray = FEDERATION_ANNOTATIONS.filter(
      (a) => a !== ANNOTATIONS.federationRuleId && annotations[a] !== undefined && annotations[a] !== '',
    );
    if (stray.length > 0) {
      problems.push(
        `${stray.join(', ')} ${stray.length === 1 ? 'is' : 'are'} set but no federation rule is: set ` +
          `${ANNOTATIONS.federationRuleId} (or the injector's AUTH_SHIM_DEFAULT_FEDERATION_RULE_ID)`,
      );
    }
    return none;
  }
  const missing: string[] = [];
  if (org === undefined) missing.push(`${ANNOTATIONS.organizationId} (or AUTH_SHIM_DEFAULT_ORGANIZATION_ID)`);
  if (svac === undefined) missing.push(`${ANNOTATIONS.serviceAccountId} (or AUTH_SHIM_DEFAULT_SERVICE_ACCOUNT_ID)`);
  if (missing.length > 0) problems.push(`federation rule ${ruleId} needs ${missing.join(' and ')}`);
  if (
    problems.length > before ||
    org === undefined ||
    org === INVALID ||
    svac === undefined ||
    svac === INVALID ||
    workspace === INVALID ||
    audience === undefined ||
    audience === INVALID ||
    expiration === undefined ||
    expiration === INVALID ||
    url === INVALID
  )
    return { ruleId, settings: undefined };
  return {
    ruleId,
    settings: {
      ruleId,
      organizationId: org,
      serviceAccountId: svac,
      workspaceId: workspace,
      audience,
      expirationSeconds: expiration,
      tokenUrl: url,
    },
  };
}
