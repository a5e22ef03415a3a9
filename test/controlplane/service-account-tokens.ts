import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ANTHROPIC_AUDIENCE, type JwksSource } from '../helpers/fake-token-endpoint.js';
import { writeKubeletSecret } from '../helpers/kubelet-dir.js';
import type { ControlPlane } from './cluster.js';
import { apply, getJson } from './kube.js';

/**
 * Service-account JWTs from the real API server (issue 17): it is the OIDC issuer Anthropic's
 * Kubernetes guide registers, so the tokens, the discovery document and the JWKS here are the
 * ones a pod's projected volume and the Claude Console would see.
 */

/** The API server refuses `expirationSeconds` under 10 minutes (TokenRequest validation). */
export const MIN_TOKEN_SECONDS = 600;

export interface TokenFor {
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly audience?: string;
  readonly expirationSeconds?: number;
  /** Bind the token to this Pod, as the kubelet binds a projected token to its pod. */
  readonly pod?: { readonly name: string; readonly uid: string };
}

/** `sub` of a service-account token: what a federation rule matches. */
export function serviceAccountSubject(namespace: string, serviceAccount: string): string {
  return `system:serviceaccount:${namespace}:${serviceAccount}`;
}

/** A TokenRequest (`kubectl create token`) for the ServiceAccount. */
export async function requestToken(cp: ControlPlane, t: TokenFor): Promise<string> {
  const args = [
    'create',
    'token',
    t.serviceAccount,
    '-n',
    t.namespace,
    `--audience=${t.audience ?? ANTHROPIC_AUDIENCE}`,
    `--duration=${t.expirationSeconds ?? MIN_TOKEN_SECONDS}s`,
  ];
  if (t.pod !== undefined)
    args.push('--bound-object-kind=Pod', `--bound-object-name=${t.pod.name}`, `--bound-object-uid=${t.pod.uid}`);
  return (await cp.kubectlOk(args)).trim();
}

export async function createServiceAccount(cp: ControlPlane, namespace: string, name: string): Promise<void> {
  await apply(cp, [{ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace } }]);
}

/**
 * A Pod object for tokens to be bound to. No kubelet runs here, so it stays Pending; the API
 * server only needs it to exist (and checks its UID) when it issues a bound token.
 */
export async function createPod(
  cp: ControlPlane,
  namespace: string,
  name: string,
  serviceAccount: string,
): Promise<{ name: string; uid: string }> {
  await apply(cp, [
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace },
      spec: {
        serviceAccountName: serviceAccount,
        automountServiceAccountToken: false,
        containers: [{ name: 'agent', image: 'registry.invalid/agent:1' }],
      },
    },
  ]);
  const pod = await getJson(cp, ['pod', name, '-n', namespace]);
  return { name, uid: pod.metadata?.['uid'] as string };
}

export interface OidcDiscovery {
  readonly issuer: string;
  readonly jwks_uri: string;
  readonly id_token_signing_alg_values_supported: readonly string[];
}

export async function discovery(cp: ControlPlane): Promise<OidcDiscovery> {
  return JSON.parse(await cp.kubectlOk(['get', '--raw', '/.well-known/openid-configuration'])) as OidcDiscovery;
}

/**
 * The API server's own `/openid/v1/jwks`, fetched live by the token endpoint. The discovery
 * document's `jwks_uri` is built from the issuer and names no reachable host here, so the URL is
 * the API server's; RBAC lets only authenticated callers read it by default, hence the token.
 */
export async function apiserverJwks(cp: ControlPlane): Promise<JwksSource> {
  return {
    url: `${cp.server}/openid/v1/jwks`,
    ca: await readFile(cp.caFile),
    headers: { authorization: `Bearer ${cp.token}` },
  };
}

export interface ProjectedToken {
  /** The volume's directory. */
  readonly dir: string;
  /** `<dir>/token`, for AUTH_SHIM_IDENTITY_TOKEN_FILE. */
  readonly file: string;
  /** Every JWT written so far, oldest first. */
  readonly written: string[];
  /** Requests a fresh token and swaps it in as the kubelet does; returns it. */
  rotate(): Promise<string>;
}

/**
 * A projected `serviceAccountToken` volume written kubelet-style: the kubelet's AtomicWriter puts
 * the token in a new `..<timestamp>` directory and renames `..data` over to it (pkg/volume/util/atomic_writer.go), so a
 * reader of `token` sees the old JWT or the new one, never a partial file.
 */
export async function projectedToken(cp: ControlPlane, dir: string, t: TokenFor): Promise<ProjectedToken> {
  const written: string[] = [];
  const rotate = async () => {
    const jwt = await requestToken(cp, t);
    await writeKubeletSecret(dir, { token: jwt });
    written.push(jwt);
    return jwt;
  };
  await rotate();
  return { dir, file: join(dir, 'token'), written, rotate };
}
