import { ConfigError, flagFor, parseOptions } from './options.js';
import type { CredentialSlot } from '../vocabulary/credentials.js';
import { PROXY_OPTIONS, type ProxyOptionValues } from './proxy-options.js';
import {
  credentialProblems,
  FEDERATION_REQUIRED,
  federationProblems,
  listenerProblems,
  timeoutProblems,
  upstreamProblems,
} from './proxy-rules.js';

/**
 * The proxy's configuration: the option table's values (so a new option is one entry in PROXY_OPTIONS),
 * with the upstream URL split into origin and base path and the Secret's data keys grouped per slot.
 */
export type ProxyConfig = Readonly<
  Omit<ProxyOptionValues, 'upstreamUrl' | 'secretOauthTokenKey' | 'secretApiKeyKey' | 'secretLitellmKeyKey'>
> & {
  readonly upstream: URL;
  /** Upstream path prefix without a trailing slash (`/anthropic`), prepended to every request path. */
  readonly upstreamBasePath: string;
  /** Kubernetes API mode (`secret` set): the data key of each slot the Secret provides. */
  readonly secretKeys: { readonly [S in CredentialSlot]?: string };
  /**
   * Workload Identity Federation is on (the identity token file and the three IDs are set): the OAuth slot
   * holds exchanged tokens, and `tokenUrl` is set (its default derived from the upstream URL).
   */
  readonly federation: boolean;
};

export interface LoadOptions {
  /**
   * Check that the files the configuration names can be read (default). The injector validates a sidecar's
   * environment at admission, before the pod and the files the kubelet mounts into it exist: `false`.
   */
  readonly checkFiles?: boolean;
}

/** Parses and validates the proxy configuration; throws one ConfigError listing every problem. */
export function loadProxyConfig(
  env: NodeJS.ProcessEnv,
  argv: readonly string[] = [],
  { checkFiles = true }: LoadOptions = {},
): ProxyConfig {
  const { values: v, problems } = parseOptions(PROXY_OPTIONS, env, argv);
  const given = (key: keyof typeof PROXY_OPTIONS): boolean => {
    const spec = PROXY_OPTIONS[key];
    return (
      v[key] !== undefined ||
      (env[spec.env] ?? '') !== '' ||
      argv.some((a) => a === flagFor(spec.env) || a.startsWith(`${flagFor(spec.env)}=`))
    );
  };
  problems.push(
    ...listenerProblems(v),
    ...credentialProblems(v),
    ...federationProblems(v, given, checkFiles),
    ...upstreamProblems(v),
    ...timeoutProblems(v),
  );
  if (problems.length > 0) throw new ConfigError(problems);

  const { upstreamUrl: upstream, secretOauthTokenKey, secretApiKeyKey, secretLitellmKeyKey, ...rest } = v;
  const upstreamBasePath = upstream.pathname.replace(/\/+$/, '');
  const federation = FEDERATION_REQUIRED.every(([key]) => v[key] !== undefined);
  return {
    ...rest,
    upstream,
    upstreamBasePath,
    federation,
    // The exchange goes where every other call goes (LiteLLM's /anthropic route), unless told otherwise.
    tokenUrl: federation ? (v.tokenUrl ?? new URL(`${upstreamBasePath}/v1/oauth/token`, upstream.origin)) : undefined,
    secretKeys: {
      ...(secretOauthTokenKey === undefined ? {} : { oauth: secretOauthTokenKey }),
      ...(secretApiKeyKey === undefined ? {} : { apiKey: secretApiKeyKey }),
      ...(secretLitellmKeyKey === undefined ? {} : { litellmKey: secretLitellmKeyKey }),
    },
  };
}
