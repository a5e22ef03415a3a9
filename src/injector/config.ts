import { quoteValue } from '../vocabulary/redaction.js';
import type { Parsed } from '../config/options.js';
import { ConfigError, option, parseOptions, type ValuesOf } from '../config/options.js';
import {
  hostPort,
  httpUrl,
  logLevel,
  oneOf,
  positiveInt,
  positiveMs,
  filePath,
  ok,
  problem,
} from '../config/parsers.js';
import { CREDENTIAL_SOURCE_POLICIES, type CredentialSourcePolicy } from '../vocabulary/credentials.js';
import { dnsLabel, secretKey, secretName } from '../config/kube-names.js';
import {
  DEFAULT_IDENTITY_TOKEN_AUDIENCE,
  DEFAULT_IDENTITY_TOKEN_EXPIRATION_SECONDS,
  expirationSeconds,
  federationRuleId,
  identityTokenAudience,
  organizationId,
  serviceAccountId,
  workspaceId,
} from './federation.js';

/** Kubernetes resource quantity (`10m`, `64Mi`, `1.5`), greater than zero. */
export function quantity(raw: string, env: string): Parsed<string> {
  if (
    !/^(\d+(\.\d*)?|\.\d+)([KMGTPE]i|[numkMGTPE]|[eE]\d+)?$/.test(raw) ||
    !/[1-9]/.test(raw.replace(/[eE]\d+$/, ''))
  ) {
    return problem(
      `${env} must be a Kubernetes quantity greater than 0 such as 10m, 64Mi or 0.5, got ${quoteValue(raw)}`,
    );
  }
  return ok(raw);
}

export function boolean(raw: string, env: string): Parsed<boolean> {
  if (raw === 'true') return ok(true);
  if (raw === 'false') return ok(false);
  return problem(`${env} must be true or false, got ${quoteValue(raw)}`);
}

export function imageRef(raw: string, env: string): Parsed<string> {
  return /^[^\s]+$/.test(raw)
    ? ok(raw)
    : problem(`${env} must be a container image reference such as ghcr.io/org/auth-shim:0.1.0, got ${quoteValue(raw)}`);
}

function port(raw: string, env: string): Parsed<number> {
  const n = Number(raw);
  return /^\d{1,5}$/.test(raw) && n >= 1 && n <= 65535
    ? ok(n)
    : problem(`${env} must be a port number 1–65535, got ${quoteValue(raw)}`);
}

/**
 * What the injector puts into pods: shared by `auth-shim webhook` and `auth-shim inject`, so a
 * manifest rendered in CI and a pod mutated in the cluster get the same sidecar.
 */
export const INJECTOR_OPTIONS = {
  sidecarImage: option({
    env: 'AUTH_SHIM_SIDECAR_IMAGE',
    required: true,
    description:
      'Image of the injected sidecar (this image, run as `auth-shim proxy`), e.g. `ghcr.io/org/auth-shim:0.1.0`.',
    parse: imageRef,
  }),
  sidecarImagePullPolicy: option({
    env: 'AUTH_SHIM_SIDECAR_IMAGE_PULL_POLICY',
    default: 'IfNotPresent',
    description: '`imagePullPolicy` of the sidecar: `Always`, `IfNotPresent` or `Never`.',
    parse: oneOf(['Always', 'IfNotPresent', 'Never'] as const),
  }),
  namespace: option({
    env: 'AUTH_SHIM_NAMESPACE',
    description:
      "The injector's own namespace (set it from the downward API): its pods are never injected; auto TLS keeps " +
      'its Secret there.',
    parse: dnsLabel,
  }),
  defaultUpstreamUrl: option({
    env: 'AUTH_SHIM_DEFAULT_UPSTREAM_URL',
    description:
      'Upstream for pods without `auth-shim.io/upstream`, e.g. `http://litellm.ai.svc:4000/anthropic`. Unset: such ' +
      'pods are not injected (warning).',
    parse: httpUrl,
  }),
  defaultCredentialSource: option({
    env: 'AUTH_SHIM_DEFAULT_CREDENTIAL_SOURCE',
    default: 'client-first',
    description:
      'Credential source for pods without `auth-shim.io/credential-source`: `client-first`, `shim-only` or ' +
      '`client-only`.',
    parse: oneOf<CredentialSourcePolicy>(CREDENTIAL_SOURCE_POLICIES),
  }),
  defaultNativeSidecar: option({
    env: 'AUTH_SHIM_DEFAULT_NATIVE_SIDECAR',
    default: 'true',
    description:
      'Inject a native sidecar (init container, `restartPolicy: Always`) unless a pod says ' +
      '`auth-shim.io/native-sidecar: "false"`.',
    parse: boolean,
  }),
  oauthTokenSecret: option({
    env: 'AUTH_SHIM_OAUTH_TOKEN_SECRET',
    description: "Default Secret (in the pod's namespace) holding the subscription OAuth token.",
    parse: secretName,
  }),
  oauthTokenSecretKey: option({
    env: 'AUTH_SHIM_OAUTH_TOKEN_SECRET_KEY',
    default: 'oauth-token',
    description: 'Key of the OAuth token in its Secret.',
    parse: secretKey,
  }),
  apiKeySecret: option({
    env: 'AUTH_SHIM_API_KEY_SECRET',
    description: 'Default Secret holding an Anthropic API key.',
    parse: secretName,
  }),
  apiKeySecretKey: option({
    env: 'AUTH_SHIM_API_KEY_SECRET_KEY',
    default: 'api-key',
    description: 'Key of the API key in its Secret.',
    parse: secretKey,
  }),
  litellmKeySecret: option({
    env: 'AUTH_SHIM_LITELLM_KEY_SECRET',
    description: 'Default Secret holding the LiteLLM virtual key.',
    parse: secretName,
  }),
  litellmKeySecretKey: option({
    env: 'AUTH_SHIM_LITELLM_KEY_SECRET_KEY',
    default: 'litellm-key',
    description: 'Key of the LiteLLM virtual key in its Secret.',
    parse: secretKey,
  }),
  defaultFederationRuleId: option({
    env: 'AUTH_SHIM_DEFAULT_FEDERATION_RULE_ID',
    description:
      'Workload Identity Federation rule (`fdrl_…`) for pods without `auth-shim.io/federation-rule-id`: every ' +
      'injected pod exchanges its projected service-account token unless it says `""`. Unset: only annotated ' +
      'pods.',
    parse: federationRuleId,
  }),
  defaultOrganizationId: option({
    env: 'AUTH_SHIM_DEFAULT_ORGANIZATION_ID',
    description: 'Anthropic organization (UUID) for federated pods without `auth-shim.io/organization-id`.',
    parse: organizationId,
  }),
  defaultServiceAccountId: option({
    env: 'AUTH_SHIM_DEFAULT_SERVICE_ACCOUNT_ID',
    description: 'Anthropic service account (`svac_…`) for federated pods without `auth-shim.io/service-account-id`.',
    parse: serviceAccountId,
  }),
  defaultWorkspaceId: option({
    env: 'AUTH_SHIM_DEFAULT_WORKSPACE_ID',
    description: 'Workspace (`wrkspc_…` or `default`) for federated pods without `auth-shim.io/workspace-id`.',
    parse: workspaceId,
  }),
  defaultIdentityTokenAudience: option({
    env: 'AUTH_SHIM_DEFAULT_IDENTITY_TOKEN_AUDIENCE',
    default: DEFAULT_IDENTITY_TOKEN_AUDIENCE,
    description: 'Audience of the projected service-account token a federated sidecar exchanges.',
    parse: identityTokenAudience,
  }),
  defaultIdentityTokenExpirationSeconds: option({
    env: 'AUTH_SHIM_DEFAULT_IDENTITY_TOKEN_EXPIRATION_SECONDS',
    default: String(DEFAULT_IDENTITY_TOKEN_EXPIRATION_SECONDS),
    description: "`expirationSeconds` of that token (≥ 600, the API server's minimum).",
    parse: expirationSeconds,
  }),
  defaultTokenUrl: option({
    env: 'AUTH_SHIM_DEFAULT_TOKEN_URL',
    description:
      "Token endpoint for federated pods without `auth-shim.io/token-url` (the sidecar's `AUTH_SHIM_TOKEN_URL`), " +
      'e.g. a LiteLLM pass-through route `http://litellm.ai.svc:4000/anthropic-federation/v1/oauth/token`. Unset: ' +
      'the upstream + `/v1/oauth/token`.',
    parse: httpUrl,
  }),
  sidecarPort: option({
    env: 'AUTH_SHIM_SIDECAR_PORT',
    default: '8787',
    description: 'Loopback port of the sidecar; agents get `ANTHROPIC_BASE_URL=http://127.0.0.1:<port>`.',
    parse: port,
  }),
  sidecarAdminPort: option({
    env: 'AUTH_SHIM_SIDECAR_ADMIN_PORT',
    default: '9464',
    description: 'Sidecar admin port on the pod IP: probes and `/metrics`.',
    parse: port,
  }),
  cpuRequest: option({
    env: 'AUTH_SHIM_SIDECAR_CPU_REQUEST',
    default: '10m',
    description: 'Sidecar CPU request. No CPU limit by default: throttling a streaming proxy only adds latency.',
    parse: quantity,
  }),
  cpuLimit: option({
    env: 'AUTH_SHIM_SIDECAR_CPU_LIMIT',
    description: 'Sidecar CPU limit (unset: none).',
    parse: quantity,
  }),
  memoryRequest: option({
    env: 'AUTH_SHIM_SIDECAR_MEMORY_REQUEST',
    default: '96Mi',
    description: 'Sidecar memory request (an idle `auth-shim proxy` on Node 24 has ~80 MiB resident).',
    parse: quantity,
  }),
  memoryLimit: option({
    env: 'AUTH_SHIM_SIDECAR_MEMORY_LIMIT',
    default: '256Mi',
    description:
      "Sidecar memory limit; the sidecar's V8 heap is capped below it (`NODE_OPTIONS=--max-old-space-size`).",
    parse: quantity,
  }),
  sidecarLogLevel: option({
    env: 'AUTH_SHIM_SIDECAR_LOG_LEVEL',
    default: 'info',
    description: "The sidecar's `AUTH_SHIM_LOG_LEVEL`.",
    parse: logLevel,
  }),
};

export type InjectorConfig = ValuesOf<typeof INJECTOR_OPTIONS>;

/** `auth-shim webhook` only: how it listens and where its certificate comes from. */
export const WEBHOOK_OPTIONS = {
  listen: option({
    env: 'AUTH_SHIM_WEBHOOK_LISTEN',
    default: '0.0.0.0:8443',
    description: 'HTTPS listener for AdmissionReview (`POST /mutate`, `POST /mutate/namespace-enabled`).',
    parse: hostPort,
  }),
  adminListen: option({
    env: 'AUTH_SHIM_ADMIN_LISTEN',
    default: '0.0.0.0:9464',
    description: '`/healthz`, `/readyz`, `/metrics` of the webhook (plain HTTP).',
    parse: hostPort,
  }),
  tlsMode: option({
    env: 'AUTH_SHIM_WEBHOOK_TLS_MODE',
    default: 'files',
    description:
      '`files`: certificate files (cert-manager), reloaded on rotation. `auto`: generate a CA and certificate, ' +
      "keep them in a Secret, patch the webhook configuration's `caBundle`.",
    parse: oneOf(['files', 'auto'] as const),
  }),
  tlsCertFile: option({
    env: 'AUTH_SHIM_WEBHOOK_TLS_CERT_FILE',
    description: 'PEM certificate chain (`files` mode), e.g. `/etc/auth-shim/tls/tls.crt`.',
    parse: filePath,
  }),
  tlsKeyFile: option({
    env: 'AUTH_SHIM_WEBHOOK_TLS_KEY_FILE',
    description: 'PEM private key (`files` mode), e.g. `/etc/auth-shim/tls/tls.key`.',
    parse: filePath,
  }),
  tlsReloadIntervalMs: option({
    env: 'AUTH_SHIM_WEBHOOK_TLS_RELOAD_INTERVAL_MS',
    default: '10000',
    description: 'Periodic re-read of the certificate files, a fallback for missed file-watch events.',
    parse: positiveMs,
  }),
  tlsSecret: option({
    env: 'AUTH_SHIM_WEBHOOK_TLS_SECRET',
    default: 'auth-shim-webhook-tls',
    description:
      '`auto` mode: Secret in `AUTH_SHIM_NAMESPACE` that holds the generated CA and certificate (shared by all ' +
      'replicas).',
    parse: secretName,
  }),
  webhookConfiguration: option({
    env: 'AUTH_SHIM_WEBHOOK_CONFIGURATION',
    default: 'auth-shim',
    description: '`auto` mode: the `MutatingWebhookConfiguration` whose `caBundle` is patched.',
    parse: secretName,
  }),
  service: option({
    env: 'AUTH_SHIM_WEBHOOK_SERVICE',
    default: 'auth-shim-webhook',
    description: "`auto` mode: the webhook's Service; the certificate names `<service>.<namespace>.svc`.",
    parse: dnsLabel,
  }),
  certCheckIntervalMs: option({
    env: 'AUTH_SHIM_WEBHOOK_CERT_CHECK_INTERVAL_MS',
    default: '3600000',
    description:
      '`auto` mode: how often the Secret is re-read (another replica may have renewed it) and a certificate near ' +
      'expiry renewed.',
    parse: positiveMs,
  }),
  maxBodyBytes: option({
    env: 'AUTH_SHIM_WEBHOOK_MAX_BODY_BYTES',
    default: String(6 * 1024 * 1024),
    description:
      'Largest AdmissionReview accepted (→ 413); a review carries the object and, on UPDATE, the old one (≤ 1.5 ' +
      'MiB each in etcd).',
    parse: positiveInt('bytes'),
  }),
  requestTimeoutMs: option({
    env: 'AUTH_SHIM_WEBHOOK_REQUEST_TIMEOUT_MS',
    default: '5000',
    description: "Longest time to receive a review; keep it below the webhook's `timeoutSeconds` (default 10 s).",
    parse: positiveMs,
  }),
  drainTimeoutMs: option({
    env: 'AUTH_SHIM_DRAIN_TIMEOUT_MS',
    default: '10000',
    description: 'On SIGTERM/SIGINT/SIGHUP, how long in-flight reviews may finish before exit.',
    parse: positiveMs,
  }),
  logLevel: option({
    env: 'AUTH_SHIM_LOG_LEVEL',
    default: 'info',
    description: '`fatal`, `error`, `warn`, `info` (one line per review), `debug`, `trace`, `silent`.',
    parse: logLevel,
  }),
};

export type WebhookConfig = ValuesOf<typeof WEBHOOK_OPTIONS>;

function injectorProblems(v: Partial<InjectorConfig>): string[] {
  const problems: string[] = [];
  if (v.sidecarPort !== undefined && v.sidecarPort === v.sidecarAdminPort) {
    problems.push(`AUTH_SHIM_SIDECAR_PORT and AUTH_SHIM_SIDECAR_ADMIN_PORT must differ, both are ${v.sidecarPort}`);
  }
  if (v.defaultFederationRuleId !== undefined && v.defaultCredentialSource === 'client-only') {
    // Every pod without annotations would be refused: federation is the shim's own credential.
    problems.push(
      'AUTH_SHIM_DEFAULT_FEDERATION_RULE_ID is set but AUTH_SHIM_DEFAULT_CREDENTIAL_SOURCE=client-only never uses ' +
        "the shim's credential: choose client-first or shim-only",
    );
  }
  return problems;
}

/** Injector settings for `auth-shim inject`; throws one ConfigError listing every problem. */
export function loadInjectorConfig(
  env: NodeJS.ProcessEnv,
  argv: readonly string[],
  booleanFlags: readonly string[] = [],
): { config: InjectorConfig; positionals: string[] } {
  const { values, problems, positionals } = parseOptions(INJECTOR_OPTIONS, env, argv, booleanFlags);
  problems.push(...injectorProblems(values));
  if (problems.length > 0) throw new ConfigError(problems);
  return { config: values, positionals };
}

/** Injector and server settings for `auth-shim webhook`. */
export function loadWebhookConfig(
  env: NodeJS.ProcessEnv,
  argv: readonly string[],
): { injector: InjectorConfig; webhook: WebhookConfig } {
  const table = { ...INJECTOR_OPTIONS, ...WEBHOOK_OPTIONS };
  const { values: v, problems, positionals } = parseOptions(table, env, argv);
  for (const p of positionals) problems.push(`unexpected argument ${quoteValue(p)}`);
  problems.push(...injectorProblems(v));
  if (v.tlsMode === 'files') {
    if (v.tlsCertFile === undefined)
      problems.push('AUTH_SHIM_WEBHOOK_TLS_CERT_FILE is required when AUTH_SHIM_WEBHOOK_TLS_MODE=files');
    if (v.tlsKeyFile === undefined)
      problems.push('AUTH_SHIM_WEBHOOK_TLS_KEY_FILE is required when AUTH_SHIM_WEBHOOK_TLS_MODE=files');
  }
  if (v.tlsMode === 'auto' && v.namespace === undefined) {
    problems.push(
      "AUTH_SHIM_NAMESPACE is required when AUTH_SHIM_WEBHOOK_TLS_MODE=auto (the Secret and the certificate's DNS " +
        'names live there)',
    );
  }
  if (
    v.listen !== undefined &&
    v.adminListen !== undefined &&
    v.listen.port !== 0 &&
    v.listen.port === v.adminListen.port
  ) {
    problems.push(
      `AUTH_SHIM_WEBHOOK_LISTEN and AUTH_SHIM_ADMIN_LISTEN must use different ports, both are ${v.listen.port}`,
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const injector = Object.fromEntries(
    Object.keys(INJECTOR_OPTIONS).map((k) => [k, (v as Record<string, unknown>)[k]]),
  ) as InjectorConfig;
  const webhook = Object.fromEntries(
    Object.keys(WEBHOOK_OPTIONS).map((k) => [k, (v as Record<string, unknown>)[k]]),
  ) as WebhookConfig;
  return { injector, webhook };
}
