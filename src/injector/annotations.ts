/**
 * Every annotation and label the injector reads or writes. These names are API: the README and
 * docs/INJECTION.md document them from `ANNOTATION_DOCS`, and a test keeps the two in step.
 */

export const PREFIX = 'auth-shim.io/';

export const ANNOTATIONS = {
  inject: 'auth-shim.io/inject',
  oauthTokenSecret: 'auth-shim.io/oauth-token-secret',
  apiKeySecret: 'auth-shim.io/api-key-secret',
  litellmKeySecret: 'auth-shim.io/litellm-key-secret',
  upstream: 'auth-shim.io/upstream',
  credentialSource: 'auth-shim.io/credential-source',
  containers: 'auth-shim.io/containers',
  nativeSidecar: 'auth-shim.io/native-sidecar',
  /**
   * `"true"` accepts injecting a `shim-only` pod with `shareProcessNamespace: true`, where the
   * agent can reach the sidecar's process (signals, /proc/<pid>/root) and so its credentials (issue 15).
   */
  acceptSharedProcessNamespace: 'auth-shim.io/accept-shared-process-namespace',
  /** Workload Identity Federation (issue 17): a rule id puts the pod in federation mode. */
  federationRuleId: 'auth-shim.io/federation-rule-id',
  organizationId: 'auth-shim.io/organization-id',
  serviceAccountId: 'auth-shim.io/service-account-id',
  workspaceId: 'auth-shim.io/workspace-id',
  identityTokenAudience: 'auth-shim.io/identity-token-audience',
  identityTokenExpirationSeconds: 'auth-shim.io/identity-token-expiration-seconds',
  tokenUrl: 'auth-shim.io/token-url',
  /** Written by the injector; its presence makes injection idempotent (vault-k8s `agent-inject-status`). */
  status: 'auth-shim.io/status',
  /** Written by the injector: containers whose own `ANTHROPIC_BASE_URL` was left in place. */
  baseUrlKept: 'auth-shim.io/base-url-kept',
} as const;

export const STATUS_INJECTED = 'injected';

/** Namespace label that opts in every pod of the namespace (`auth-shim.io/inject=enabled`). */
export const NAMESPACE_LABEL = 'auth-shim.io/inject';
export const NAMESPACE_LABEL_VALUE = 'enabled';

export interface AnnotationDoc {
  readonly name: string;
  readonly default: string;
  readonly meaning: string;
}

export const ANNOTATION_DOCS: readonly AnnotationDoc[] = [
  {
    name: ANNOTATIONS.inject,
    default: 'unset (`true` in a namespace labelled `auth-shim.io/inject=enabled`)',
    meaning: '`"true"` injects the sidecar, `"false"` never does (also in an opted-in namespace).',
  },
  {
    name: ANNOTATIONS.oauthTokenSecret,
    default: '`AUTH_SHIM_OAUTH_TOKEN_SECRET`',
    meaning:
      'Secret holding the subscription OAuth token: `name` (key `AUTH_SHIM_OAUTH_TOKEN_SECRET_KEY`) or `name/key`. ' +
      '`""` mounts none.',
  },
  {
    name: ANNOTATIONS.apiKeySecret,
    default: '`AUTH_SHIM_API_KEY_SECRET`',
    meaning: 'Secret holding an Anthropic API key: `name` or `name/key`. `""` mounts none.',
  },
  {
    name: ANNOTATIONS.litellmKeySecret,
    default: '`AUTH_SHIM_LITELLM_KEY_SECRET`',
    meaning: 'Secret holding the LiteLLM virtual key: `name` or `name/key`. `""` mounts none.',
  },
  {
    name: ANNOTATIONS.upstream,
    default: '`AUTH_SHIM_DEFAULT_UPSTREAM_URL`',
    meaning: "The sidecar's `AUTH_SHIM_UPSTREAM_URL` (LiteLLM `/anthropic` route).",
  },
  {
    name: ANNOTATIONS.credentialSource,
    default: '`AUTH_SHIM_DEFAULT_CREDENTIAL_SOURCE`',
    meaning:
      '`client-first`, `shim-only` (agents get a placeholder `ANTHROPIC_API_KEY`) or `client-only` (no Anthropic ' +
      'credential Secret is mounted).',
  },
  {
    name: ANNOTATIONS.containers,
    default: 'every app container',
    meaning: 'Comma-separated containers that get `ANTHROPIC_BASE_URL` (and the placeholder key).',
  },
  {
    name: ANNOTATIONS.nativeSidecar,
    default: '`AUTH_SHIM_DEFAULT_NATIVE_SIDECAR` (`true`)',
    meaning:
      '`"true"`: an init container with `restartPolicy: Always` (Kubernetes ≥ 1.29). `"false"`: a classic ' +
      'container (never completes a Job).',
  },
  {
    name: ANNOTATIONS.acceptSharedProcessNamespace,
    default: '`"false"`',
    meaning:
      '`"true"` injects a `shim-only` pod that has `shareProcessNamespace: true` (refused otherwise): its ' +
      'containers can signal the sidecar and read its files through `/proc`, so the agent can reach the ' +
      'credentials. Other modes are injected with a warning.',
  },
  {
    name: ANNOTATIONS.federationRuleId,
    default: '`AUTH_SHIM_DEFAULT_FEDERATION_RULE_ID`',
    meaning:
      "Workload Identity Federation rule (`fdrl_…`). Set (here or by default): the sidecar exchanges the pod's " +
      'projected service-account token for Anthropic tokens; no OAuth token Secret is mounted; agents get a ' +
      'placeholder `ANTHROPIC_API_KEY`. `""` turns a default rule off.',
  },
  {
    name: ANNOTATIONS.organizationId,
    default: '`AUTH_SHIM_DEFAULT_ORGANIZATION_ID`',
    meaning: 'Anthropic organization (UUID) of the federation rule; required with a rule.',
  },
  {
    name: ANNOTATIONS.serviceAccountId,
    default: '`AUTH_SHIM_DEFAULT_SERVICE_ACCOUNT_ID`',
    meaning: 'Anthropic service account (`svac_…`) the rule issues tokens for; required with a rule.',
  },
  {
    name: ANNOTATIONS.workspaceId,
    default: '`AUTH_SHIM_DEFAULT_WORKSPACE_ID`',
    meaning: 'Workspace (`wrkspc_…` or `default`); needed only when the rule allows several. `""` clears a default.',
  },
  {
    name: ANNOTATIONS.identityTokenAudience,
    default: '`AUTH_SHIM_DEFAULT_IDENTITY_TOKEN_AUDIENCE` (`https://api.anthropic.com`)',
    meaning: "`audience` of the projected service-account token (the JWT's `aud`); an https URL.",
  },
  {
    name: ANNOTATIONS.identityTokenExpirationSeconds,
    default: '`AUTH_SHIM_DEFAULT_IDENTITY_TOKEN_EXPIRATION_SECONDS` (`3600`)',
    meaning: '`expirationSeconds` of the projected token, ≥ 600 (the kubelet rewrites the file at 80 % of it).',
  },
  {
    name: ANNOTATIONS.tokenUrl,
    default: '`AUTH_SHIM_DEFAULT_TOKEN_URL` (unset: the upstream + `/v1/oauth/token`)',
    meaning:
      "The sidecar's `AUTH_SHIM_TOKEN_URL`: where it exchanges the token, e.g. a LiteLLM pass-through route " +
      '(LiteLLM\'s `/anthropic` route refuses the exchange). `""` clears a default.',
  },
  {
    name: ANNOTATIONS.status,
    default: '—',
    meaning:
      'Written by the injector (`injected`); a pod that has it and the `auth-shim` container is never injected ' +
      'again. Any other value, or `injected` without the container, is refused when injection is requested.',
  },
  {
    name: ANNOTATIONS.baseUrlKept,
    default: '—',
    meaning: 'Written by the injector: containers that already set `ANTHROPIC_BASE_URL` and were left alone.',
  },
];

export function annotationsMarkdown(): string {
  const rows = ANNOTATION_DOCS.map((a) => `| \`${a.name}\` | ${a.default} | ${a.meaning} |`);
  return ['| annotation | default | meaning |', '|---|---|---|', ...rows].join('\n');
}
