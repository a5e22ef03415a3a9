import { maxInflight } from './inflight-limit.js';
import { secretKey, secretRef } from './kube-names.js';
import { option, type ValuesOf } from './options.js';
import {
  commaList,
  filePath,
  headerName,
  hostPort,
  httpUrl,
  jwtFilePath,
  logLevel,
  nonNegativeInt,
  oneOf,
  positiveInt,
  positiveMs,
  shapedId,
  subsetOf,
  timestamp,
} from './parsers.js';
import {
  CREDENTIAL_KINDS,
  CREDENTIAL_SOURCE_POLICIES,
  type CredentialKind,
  type CredentialSourcePolicy,
} from '../vocabulary/credentials.js';
import { DEFAULT_ALLOWED_PATHS } from '../vocabulary/path-patterns.js';

/** Every `auth-shim proxy` option; the README's configuration table is generated from this. */
export const PROXY_OPTIONS = {
  upstreamUrl: option({
    env: 'AUTH_SHIM_UPSTREAM_URL',
    required: true,
    description:
      'LiteLLM `/anthropic` route (or any Anthropic-compatible base URL); the request path and query are appended to ' +
      'its path, e.g. `http://litellm.ai.svc:4000/anthropic`.',
    parse: httpUrl,
  }),
  listen: option({
    env: 'AUTH_SHIM_LISTEN',
    default: '127.0.0.1:8787',
    description: 'Agent-facing listener. Loopback only: the shim attaches credentials to what it forwards.',
    parse: hostPort,
  }),
  adminListen: option({
    env: 'AUTH_SHIM_ADMIN_LISTEN',
    default: '0.0.0.0:9464',
    description: '`/healthz`, `/readyz`, `/metrics` (kubelet probes reach the pod IP, not loopback).',
    parse: hostPort,
  }),
  adminMaxConnections: option({
    env: 'AUTH_SHIM_ADMIN_MAX_CONNECTIONS',
    default: '64',
    description:
      'Most connections the admin listener holds at once; more are closed on accept. Probes and one scraper need a ' +
      'few; with headers due in 5 s a flood frees its slots quickly.',
    parse: positiveInt('connections'),
  }),
  oauthTokenFile: option({
    env: 'AUTH_SHIM_OAUTH_TOKEN_FILE',
    description: 'File (mounted Secret key) holding a subscription OAuth token `sk-ant-oat…`.',
    parse: filePath,
  }),
  apiKeyFile: option({
    env: 'AUTH_SHIM_API_KEY_FILE',
    description: 'File holding an Anthropic API key `sk-ant-api…`.',
    parse: filePath,
  }),
  litellmKeyFile: option({
    env: 'AUTH_SHIM_LITELLM_KEY_FILE',
    description: 'File holding the LiteLLM virtual key, sent in the LiteLLM key header.',
    parse: filePath,
  }),
  identityTokenFile: option({
    env: 'AUTH_SHIM_IDENTITY_TOKEN_FILE',
    description:
      'Workload Identity Federation: the OIDC JWT file (a projected service-account token, audience ' +
      '`https://api.anthropic.com`), re-read for every exchange. With the three IDs below it makes the shim ' +
      'exchange the JWT for short-lived OAuth tokens and use them as its own OAuth credential.',
    parse: jwtFilePath,
  }),
  federationRuleId: option({
    env: 'AUTH_SHIM_FEDERATION_RULE_ID',
    description: 'Workload Identity Federation: the federation rule (`fdrl_…`).',
    parse: shapedId(/^fdrl_[A-Za-z0-9]+$/, 'a federation rule ID (fdrl_…)'),
  }),
  organizationId: option({
    env: 'AUTH_SHIM_ORGANIZATION_ID',
    description: 'Workload Identity Federation: the Anthropic organization (a UUID).',
    parse: shapedId(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'a UUID'),
  }),
  serviceAccountId: option({
    env: 'AUTH_SHIM_SERVICE_ACCOUNT_ID',
    description: 'Workload Identity Federation: the Anthropic service account (`svac_…`).',
    parse: shapedId(/^svac_[A-Za-z0-9]+$/, 'a service account ID (svac_…)'),
  }),
  workspaceId: option({
    env: 'AUTH_SHIM_WORKSPACE_ID',
    description:
      'Workload Identity Federation: the workspace (`wrkspc_…` or `default`); ' +
      'needed only when the rule allows several.',
    parse: shapedId(/^(default|wrkspc_[A-Za-z0-9]+)$/, 'a workspace ID (wrkspc_…) or default'),
  }),
  tokenUrl: option({
    env: 'AUTH_SHIM_TOKEN_URL',
    description:
      'Workload Identity Federation: the token endpoint. Default: the upstream URL + `/v1/oauth/token` ' +
      "(through LiteLLM, with the LiteLLM key header; LiteLLM 1.106's `/anthropic` route refuses it, so point " +
      "this at a LiteLLM pass-through endpoint). The LiteLLM key is sent only to the upstream's origin.",
    parse: httpUrl,
  }),
  secret: option({
    env: 'AUTH_SHIM_SECRET',
    description:
      'Read credentials from this Secret through the Kubernetes API (`<namespace>/<name>`) instead of files: ' +
      'rotations apply within seconds. Needs get/list/watch on it.',
    parse: secretRef,
  }),
  secretOauthTokenKey: option({
    env: 'AUTH_SHIM_SECRET_OAUTH_TOKEN_KEY',
    description: 'With `AUTH_SHIM_SECRET`: the data key holding the OAuth token.',
    parse: secretKey,
  }),
  secretApiKeyKey: option({
    env: 'AUTH_SHIM_SECRET_API_KEY_KEY',
    description: 'With `AUTH_SHIM_SECRET`: the data key holding the Anthropic API key.',
    parse: secretKey,
  }),
  secretLitellmKeyKey: option({
    env: 'AUTH_SHIM_SECRET_LITELLM_KEY_KEY',
    description: 'With `AUTH_SHIM_SECRET`: the data key holding the LiteLLM virtual key.',
    parse: secretKey,
  }),
  credentialSource: option({
    env: 'AUTH_SHIM_CREDENTIAL_SOURCE',
    default: 'client-first',
    description:
      "`client-first`: the client's Anthropic credential if it sent one, else the shim's. `shim-only`: client " +
      "credentials are always stripped (the agent holds a placeholder). `client-only`: never the shim's.",
    parse: oneOf<CredentialSourcePolicy>(CREDENTIAL_SOURCE_POLICIES),
  }),
  allowedCredentials: option({
    env: 'AUTH_SHIM_ALLOWED_CREDENTIALS',
    default: 'oauth,api-key',
    description: 'Credential kinds that may be forwarded; `oauth` alone refuses to forward a metered API key (403).',
    parse: subsetOf<CredentialKind>(CREDENTIAL_KINDS),
  }),
  litellmKeyHeader: option({
    env: 'AUTH_SHIM_LITELLM_KEY_HEADER',
    default: 'x-litellm-api-key',
    description: "Header for the LiteLLM key (match LiteLLM's `litellm_key_header_name` if you changed it).",
    parse: headerName,
  }),
  allowedPaths: option({
    env: 'AUTH_SHIM_ALLOWED_PATHS',
    default: DEFAULT_ALLOWED_PATHS.join(','),
    description: 'Comma-separated paths forwarded upstream; `{id}` matches one path segment. Everything else gets 404.',
    parse: commaList,
  }),
  connectTimeoutMs: option({
    env: 'AUTH_SHIM_UPSTREAM_CONNECT_TIMEOUT_MS',
    default: '10000',
    description: 'Time to open a connection to the upstream (→ 504).',
    parse: positiveMs,
  }),
  headersTimeoutMs: option({
    env: 'AUTH_SHIM_UPSTREAM_HEADERS_TIMEOUT_MS',
    default: '600000',
    description: 'Time for the upstream to send response headers; non-streaming generations can take minutes (→ 504).',
    parse: positiveMs,
  }),
  bodyTimeoutMs: option({
    env: 'AUTH_SHIM_UPSTREAM_BODY_TIMEOUT_MS',
    default: '300000',
    description: 'Longest silence between two response body chunks (→ 504, or `event: error` in a stream).',
    parse: positiveMs,
  }),
  upstreamConnections: option({
    env: 'AUTH_SHIM_UPSTREAM_CONNECTIONS',
    default: '0',
    description:
      'Most connections to the upstream; `0` means no limit. ' +
      'A limit queues the next request behind generations that can run for minutes.',
    parse: nonNegativeInt('connections'),
  }),
  connectRetries: option({
    env: 'AUTH_SHIM_UPSTREAM_CONNECT_RETRIES',
    default: '1',
    description:
      'Retries of a request whose connection failed before any byte was sent (the only retry; a POST is never resent).',
    parse: nonNegativeInt('retries'),
  }),
  maxBodyBytes: option({
    env: 'AUTH_SHIM_MAX_BODY_BYTES',
    default: String(32 * 1024 * 1024),
    description: "Largest request body forwarded (→ 413 `request_too_large`); Anthropic's own limit is 32 MB.",
    parse: positiveInt('bytes'),
  }),
  maxInflightRequests: option({
    env: 'AUTH_SHIM_MAX_INFLIGHT_REQUESTS',
    default: 'auto',
    description:
      'Most requests proxied at once; more get 429 `rate_limit_error` with `retry-after: 1`, nothing forwarded. ' +
      "`auto`: the V8 heap limit / 128 KiB (1,120 with the injector's 256Mi default); `0`: no limit.",
    parse: maxInflight,
  }),
  clientHeadersTimeoutMs: option({
    env: 'AUTH_SHIM_CLIENT_HEADERS_TIMEOUT_MS',
    default: '60000',
    description:
      'Time a client may take to send its request headers before the connection is answered 408 and closed ' +
      '(slowloris).',
    parse: positiveMs,
  }),
  clientRequestTimeoutMs: option({
    env: 'AUTH_SHIM_CLIENT_REQUEST_TIMEOUT_MS',
    default: '300000',
    description:
      'Time a client may take to send its whole request, body included (→ 408, connection closed); ' +
      'the response may stream for longer.',
    parse: positiveMs,
  }),
  drainTimeoutMs: option({
    env: 'AUTH_SHIM_DRAIN_TIMEOUT_MS',
    default: '25000',
    description: 'On SIGTERM/SIGINT/SIGHUP, how long in-flight requests and streams may finish before exit.',
    parse: positiveMs,
  }),
  reloadIntervalMs: option({
    env: 'AUTH_SHIM_CREDENTIAL_RELOAD_INTERVAL_MS',
    default: '30000',
    description: 'Periodic re-read of credential files, a fallback for missed file-watch events.',
    parse: positiveMs,
  }),
  oauthTokenExpiresAt: option({
    env: 'AUTH_SHIM_OAUTH_TOKEN_EXPIRES_AT',
    description:
      'When the OAuth token expires (RFC 3339), for the expiry metric; `claude setup-token` tokens last ~1 year.',
    parse: timestamp,
  }),
  logLevel: option({
    env: 'AUTH_SHIM_LOG_LEVEL',
    default: 'info',
    description:
      '`fatal`, `error`, `warn`, `info` (one line per request), `debug` (header names before/after translation), ' +
      '`trace`, `silent`.',
    parse: logLevel,
  }),
};

export type ProxyOptionValues = ValuesOf<typeof PROXY_OPTIONS>;
