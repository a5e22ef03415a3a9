import type {
  CredentialKind,
  CredentialOrigin,
  CredentialSourcePolicy,
  ShimCredentials,
} from '../vocabulary/credentials.js';
import { ERRORS, type ErrorKind } from './errors.js';
import type { PathPolicy } from './paths.js';
import type { Translator } from './translate.js';

/** What admission looks at of a request: its head only, never its body. */
export interface RequestHead {
  readonly method: string | undefined;
  readonly target: string;
  /** The Content-Length header as sent (`undefined` when absent). */
  readonly contentLength: string | undefined;
  /** Flat `[name, value, …]` as node:http received them. */
  readonly rawHeaders: readonly string[];
}

/** The credentials of this request's snapshot, and why the store is not ready (asked only on a refusal). */
export interface AdmissionSnapshot {
  readonly credentials: ShimCredentials;
  notReadyReasons(): string[];
  /**
   * Workload Identity Federation is on: the shim's OAuth credential is a federated token, usable only until
   * it expires; `now` is the request's time (ms), so the verdict stays a function of its inputs.
   */
  readonly federation?: { readonly expiresAt: Date | undefined; readonly now: number } | undefined;
}

export type Verdict =
  | {
      readonly ok: true;
      /** The allowlist entry that matched: what logs and metrics name. */
      readonly route: string;
      readonly path: string;
      readonly query: string;
      /** Headers for the upstream, translated. */
      readonly headers: string[];
      readonly credential: CredentialKind;
      readonly origin: CredentialOrigin;
    }
  | {
      readonly ok: false;
      /** The matched route, or `(rejected)` when the path itself was refused. */
      readonly route: string;
      readonly error: ErrorKind;
      readonly message: string;
    };

export interface AdmissionPolicy {
  readonly paths: PathPolicy;
  readonly translate: Translator;
  readonly maxBodyBytes: number;
  readonly credentialSource: CredentialSourcePolicy;
  /** A LiteLLM key is configured, so no request may leave without it. */
  readonly litellmKeyRequired: boolean;
}

const METHODS = new Set(['GET', 'HEAD', 'POST']);

/**
 * The admission rules, in order: method, path, declared size, readiness of the LiteLLM key, then the
 * credential decision (a federated token only while unexpired). Pure: the same head and snapshot always
 * give the same verdict (test/proxy/decide.test.ts and decide-federation.test.ts walk them row by row).
 */
export function decide(policy: AdmissionPolicy, head: RequestHead, snap: AdmissionSnapshot): Verdict {
  const verdict = policy.paths.check(head.target);
  if (!METHODS.has(head.method ?? '')) {
    return refuse(
      verdict.ok ? verdict.route : '(rejected)',
      ERRORS.methodNotAllowed,
      `auth-shim: method ${JSON.stringify(head.method)} is not allowed (GET, HEAD, POST)`,
    );
  }
  if (!verdict.ok) return refuse('(rejected)', ERRORS.pathNotAllowed, `auth-shim: ${verdict.reason}`);
  const { route } = verdict;

  const declared = head.contentLength;
  if (declared !== undefined && Number(declared) > policy.maxBodyBytes) {
    return refuse(
      route,
      ERRORS.bodyTooLarge,
      `auth-shim: the request body (${declared} bytes) is larger than AUTH_SHIM_MAX_BODY_BYTES (${policy.maxBodyBytes} bytes)`,
    );
  }
  if (policy.litellmKeyRequired && snap.credentials.litellmKey === undefined) {
    return refuse(
      route,
      ERRORS.notReady,
      `auth-shim: the LiteLLM key is not loaded yet (${snap.notReadyReasons().join('; ')})`,
    );
  }
  const fed = snap.federation;
  // An expired federated token is no token: never forwarded, the request is refused below instead.
  const fedUsable =
    fed === undefined ||
    (snap.credentials.oauth !== undefined && fed.expiresAt !== undefined && fed.expiresAt.getTime() > fed.now);
  const t = policy.translate(head.rawHeaders, fedUsable ? snap.credentials : { ...snap.credentials, oauth: undefined });
  if (!t.ok) {
    if (!fedUsable && t.error === ERRORS.missingCredential && policy.credentialSource !== 'client-only') {
      const reasons = snap.notReadyReasons();
      return refuse(
        route,
        ERRORS.federationUnavailable,
        `auth-shim: no valid Workload Identity Federation token (${reasons.length > 0 ? reasons.join('; ') : 'no exchange has succeeded yet'})`,
      );
    }
    const reasons = t.error === ERRORS.missingCredential ? snap.notReadyReasons() : [];
    // The shim should hold a credential but its Secret has not loaded: transient, retryable.
    if (reasons.length > 0 && policy.credentialSource !== 'client-only')
      return refuse(route, ERRORS.notReady, `auth-shim: no credential loaded yet (${reasons.join('; ')})`);
    return refuse(route, t.error, t.message);
  }
  return {
    ok: true,
    route,
    path: verdict.path,
    query: verdict.query,
    headers: t.headers,
    credential: t.credential,
    origin: t.origin,
  };
}

function refuse(route: string, error: ErrorKind, message: string): Verdict {
  return { ok: false, route, error, message };
}
