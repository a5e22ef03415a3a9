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
      'Secret holding the subscription OAuth token: `name` (key `AUTH_SHIM_OAUTH_TOKEN_SECRET_KEY`) or `name/key`. `""` mounts none.',
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
      '`client-first`, `shim-only` (agents get a placeholder `ANTHROPIC_API_KEY`) or `client-only` (no Anthropic credential Secret is mounted).',
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
      '`"true"`: an init container with `restartPolicy: Always` (Kubernetes ≥ 1.29). `"false"`: a classic container (never completes a Job).',
  },
  {
    name: ANNOTATIONS.acceptSharedProcessNamespace,
    default: '`"false"`',
    meaning:
      '`"true"` injects a `shim-only` pod that has `shareProcessNamespace: true` (refused otherwise): its containers can signal the sidecar and read its files through `/proc`, so the agent can reach the credentials. Other modes are injected with a warning.',
  },
  {
    name: ANNOTATIONS.status,
    default: '—',
    meaning:
      'Written by the injector (`injected`); a pod that has it and the `auth-shim` container is never injected again. Any other value, or `injected` without the container, is refused when injection is requested.',
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
