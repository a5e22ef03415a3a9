import { readFile } from 'node:fs/promises';
import { isObject } from '../vocabulary/guards.js';
import { MAX_CREDENTIAL_FILE_BYTES } from './read-credential.js';

/** A compact JWS: three base64url segments (RFC 7515 §7.1). The signature is the issuer's business. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export type IdentityTokenRead =
  | { readonly ok: true; readonly jwt: string }
  | { readonly ok: false; readonly problem: string };

/**
 * Reads the OIDC identity token (a projected service-account token) for one exchange. Read again for every
 * exchange: the kubelet rotates the file in place, and some issuers accept each JWT once (`jti`). Problems
 * name the file, never its content.
 */
export async function readIdentityToken(file: string): Promise<IdentityTokenRead> {
  let raw: Buffer;
  try {
    raw = await readFile(file);
  } catch (err) {
    return {
      ok: false,
      problem: `identity token ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    };
  }
  if (raw.length > MAX_CREDENTIAL_FILE_BYTES)
    return { ok: false, problem: `identity token ${file} is larger than ${MAX_CREDENTIAL_FILE_BYTES} bytes` };
  const jwt = raw.toString('utf8').trim();
  if (jwt === '') return { ok: false, problem: `identity token ${file} is empty` };
  if (!COMPACT_JWS.test(jwt))
    return { ok: false, problem: `identity token ${file} is not a JWT (header.payload.signature)` };
  return { ok: true, jwt };
}

/** What `auth-shim check` shows of an identity token: who issued it, for whom, until when — never the token. */
export interface IdentityClaims {
  readonly issuer: string | undefined;
  readonly subject: string | undefined;
  readonly audience: readonly string[];
  readonly expiresAt: Date | undefined;
  readonly issuedAt: Date | undefined;
}

/** Decodes a JWT's payload without verifying it (the token endpoint verifies); `undefined` if it does not decode. */
export function decodeIdentityClaims(jwt: string): IdentityClaims | undefined {
  const payload = jwt.split('.')[1];
  if (payload === undefined) return undefined;
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isObject(claims)) return undefined;
  const { iss, sub, aud, exp, iat } = claims;
  const audience = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud.filter((a) => typeof a === 'string') : [];
  return {
    issuer: typeof iss === 'string' ? iss : undefined,
    subject: typeof sub === 'string' ? sub : undefined,
    audience,
    expiresAt: typeof exp === 'number' && Number.isFinite(exp) ? new Date(exp * 1000) : undefined,
    issuedAt: typeof iat === 'number' && Number.isFinite(iat) ? new Date(iat * 1000) : undefined,
  };
}
