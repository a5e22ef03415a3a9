import { accessSync, constants } from 'node:fs';
import { isLoopback } from './parsers.js';
import { allowedPathProblems } from '../vocabulary/path-patterns.js';
import { quoteValue } from '../vocabulary/redaction.js';
import type { PROXY_OPTIONS, ProxyOptionValues } from './proxy-options.js';

/**
 * The proxy's cross-field rules, one function per area (oauth2-proxy splits its validators the same way);
 * `loadProxyConfig` lists every problem they find in one error.
 */

/** The agent-facing listener stays on loopback and apart from the admin listener. */
export function listenerProblems(v: ProxyOptionValues): string[] {
  const problems: string[] = [];
  if (v.listen !== undefined && !isLoopback(v.listen.host)) {
    problems.push(
      `AUTH_SHIM_LISTEN must be a loopback address (127.0.0.1, ::1 or localhost), got ${quoteValue(v.listen.host)}: ` +
        'the shim attaches credentials to every request it forwards',
    );
  }
  if (
    v.listen !== undefined &&
    v.adminListen !== undefined &&
    v.listen.port !== 0 &&
    v.listen.port === v.adminListen.port
  ) {
    problems.push(`AUTH_SHIM_LISTEN and AUTH_SHIM_ADMIN_LISTEN must use different ports, both are ${v.listen.port}`);
  }
  return problems;
}

/** Where credentials come from (files or one Secret), which kinds may be forwarded, and whose. */
export function credentialProblems(v: ProxyOptionValues): string[] {
  const problems: string[] = [];
  const keyOptions = [v.secretOauthTokenKey, v.secretApiKeyKey, v.secretLitellmKeyKey];
  if (v.secret !== undefined) {
    for (const [file, env] of [
      [v.oauthTokenFile, 'AUTH_SHIM_OAUTH_TOKEN_FILE'],
      [v.apiKeyFile, 'AUTH_SHIM_API_KEY_FILE'],
      [v.litellmKeyFile, 'AUTH_SHIM_LITELLM_KEY_FILE'],
    ] as const) {
      if (file !== undefined)
        problems.push(
          `${env} and AUTH_SHIM_SECRET are exclusive: credentials come either from files or from the Kubernetes API`,
        );
    }
    if (keyOptions.every((k) => k === undefined)) {
      problems.push(
        'AUTH_SHIM_SECRET needs at least one of AUTH_SHIM_SECRET_OAUTH_TOKEN_KEY, AUTH_SHIM_SECRET_API_KEY_KEY, ' +
          'AUTH_SHIM_SECRET_LITELLM_KEY_KEY',
      );
    }
  } else if (keyOptions.some((k) => k !== undefined)) {
    problems.push('AUTH_SHIM_SECRET_*_KEY options are set but AUTH_SHIM_SECRET is not');
  }
  // One name per slot for the rules below, whichever source provides it.
  let oauthFrom =
    v.oauthTokenFile !== undefined
      ? 'AUTH_SHIM_OAUTH_TOKEN_FILE'
      : v.secretOauthTokenKey !== undefined
        ? 'AUTH_SHIM_SECRET_OAUTH_TOKEN_KEY'
        : undefined;
  if (federationOn(v)) {
    if (v.oauthTokenFile !== undefined || v.secretOauthTokenKey !== undefined)
      problems.push(
        `${oauthFrom ?? 'AUTH_SHIM_OAUTH_TOKEN_FILE'} and AUTH_SHIM_IDENTITY_TOKEN_FILE are exclusive: ` +
          "both fill the shim's OAuth credential (a mounted token, or one exchanged by Workload Identity Federation)",
      );
    oauthFrom ??= 'AUTH_SHIM_IDENTITY_TOKEN_FILE';
  }
  const apiKeyFrom =
    v.apiKeyFile !== undefined
      ? 'AUTH_SHIM_API_KEY_FILE'
      : v.secretApiKeyKey !== undefined
        ? 'AUTH_SHIM_SECRET_API_KEY_KEY'
        : undefined;
  const allowed = v.allowedCredentials ?? [];
  if (oauthFrom !== undefined && v.allowedCredentials !== undefined && !allowed.includes('oauth')) {
    problems.push(`${oauthFrom} is set but AUTH_SHIM_ALLOWED_CREDENTIALS does not include oauth`);
  }
  if (apiKeyFrom !== undefined && v.allowedCredentials !== undefined && !allowed.includes('api-key')) {
    problems.push(`${apiKeyFrom} is set but AUTH_SHIM_ALLOWED_CREDENTIALS does not include api-key`);
  }
  if (v.credentialSource === 'shim-only' && oauthFrom === undefined && apiKeyFrom === undefined) {
    problems.push(
      'AUTH_SHIM_CREDENTIAL_SOURCE=shim-only needs AUTH_SHIM_OAUTH_TOKEN_FILE or AUTH_SHIM_API_KEY_FILE ' +
        '(or their AUTH_SHIM_SECRET_*_KEY)',
    );
  }
  if (v.credentialSource === 'client-only' && (oauthFrom !== undefined || apiKeyFrom !== undefined)) {
    problems.push(
      `AUTH_SHIM_CREDENTIAL_SOURCE=client-only never uses ${oauthFrom ?? apiKeyFrom}: unset it or choose client-first`,
    );
  }
  if (v.oauthTokenExpiresAt !== undefined && v.oauthTokenFile === undefined) {
    problems.push('AUTH_SHIM_OAUTH_TOKEN_EXPIRES_AT is set but AUTH_SHIM_OAUTH_TOKEN_FILE is not');
  }
  return problems;
}

/** The options Workload Identity Federation needs, all or none. */
export const FEDERATION_REQUIRED = [
  ['identityTokenFile', 'AUTH_SHIM_IDENTITY_TOKEN_FILE'],
  ['federationRuleId', 'AUTH_SHIM_FEDERATION_RULE_ID'],
  ['organizationId', 'AUTH_SHIM_ORGANIZATION_ID'],
  ['serviceAccountId', 'AUTH_SHIM_SERVICE_ACCOUNT_ID'],
] as const;

function federationOn(v: ProxyOptionValues): boolean {
  return FEDERATION_REQUIRED.every(([key]) => v[key] !== undefined);
}

/**
 * Workload Identity Federation (issue 17): the four required options together, the optional ones only with
 * them, the identity token file readable now when `checkFiles` (the kubelet writes a projected token before
 * any container starts).
 */
export function federationProblems(
  v: ProxyOptionValues,
  given: (key: keyof typeof PROXY_OPTIONS) => boolean,
  checkFiles: boolean,
): string[] {
  const problems: string[] = [];
  const set = FEDERATION_REQUIRED.filter(([key]) => given(key));
  if (set.length > 0 && set.length < FEDERATION_REQUIRED.length) {
    const missing = FEDERATION_REQUIRED.filter(([key]) => !given(key)).map(([, env]) => env);
    problems.push(
      `Workload Identity Federation needs all of ${FEDERATION_REQUIRED.map(([, env]) => env).join(', ')}: ` +
        `${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not set`,
    );
  }
  if (set.length === 0) {
    for (const [key, env] of [
      ['workspaceId', 'AUTH_SHIM_WORKSPACE_ID'],
      ['tokenUrl', 'AUTH_SHIM_TOKEN_URL'],
    ] as const)
      if (given(key))
        problems.push(`${env} is set but Workload Identity Federation is not (AUTH_SHIM_IDENTITY_TOKEN_FILE)`);
    return problems;
  }
  if (checkFiles && v.identityTokenFile !== undefined) {
    try {
      accessSync(v.identityTokenFile, constants.R_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      problems.push(
        `AUTH_SHIM_IDENTITY_TOKEN_FILE ${v.identityTokenFile} cannot be read (${code}): ` +
          'mount the projected service-account token there',
      );
    }
  }
  // credential-source client-only is refused with the other slots' rules (credentialProblems).
  return problems;
}

/** Headers the shim owns; a LiteLLM key header with one of these names would collide. */
const RESERVED_HEADERS = [
  'authorization',
  'x-api-key',
  'anthropic-beta',
  'host',
  'content-length',
  'connection',
  'transfer-encoding',
];

/** What reaches the upstream: the LiteLLM key header and the path allowlist. */
export function upstreamProblems(v: ProxyOptionValues): string[] {
  const problems: string[] = [];
  if (
    v.litellmKeyHeader !== undefined &&
    (RESERVED_HEADERS.includes(v.litellmKeyHeader) || v.litellmKeyHeader.startsWith('anthropic-'))
  ) {
    problems.push(
      `AUTH_SHIM_LITELLM_KEY_HEADER must not be ${v.litellmKeyHeader}: the shim sets or strips that header itself`,
    );
  }
  if (v.allowedPaths !== undefined) {
    if (v.allowedPaths.length === 0) problems.push('AUTH_SHIM_ALLOWED_PATHS must list at least one path');
    for (const p of v.allowedPaths)
      for (const msg of allowedPathProblems(p)) problems.push(`AUTH_SHIM_ALLOWED_PATHS: ${msg}`);
  }
  return problems;
}

/** Timeouts node:http would refuse. */
export function timeoutProblems(v: ProxyOptionValues): string[] {
  const problems: string[] = [];
  // node:http refuses a headers timeout longer than the request timeout (ERR_OUT_OF_RANGE).
  if (
    v.clientHeadersTimeoutMs !== undefined &&
    v.clientRequestTimeoutMs !== undefined &&
    v.clientHeadersTimeoutMs > v.clientRequestTimeoutMs
  ) {
    problems.push(
      `AUTH_SHIM_CLIENT_HEADERS_TIMEOUT_MS (${v.clientHeadersTimeoutMs} ms) must not exceed ` +
        `AUTH_SHIM_CLIENT_REQUEST_TIMEOUT_MS (${v.clientRequestTimeoutMs} ms)`,
    );
  }
  return problems;
}
