import { exchangeKeyHeader, exchangeSettings } from '../app/federation.js';
import { displayUrl } from '../config/parsers.js';
import type { ProxyConfig } from '../config/proxy-config.js';
import { decodeIdentityClaims, readIdentityToken } from '../credentials/identity-token.js';
import type { CredentialSnapshot } from '../credentials/store.js';
import { exchangeToken } from '../credentials/token-exchange.js';

/** A check's line, as `run-checks.ts` reports it (declared here too: that file imports this one). */
type CheckStatus = 'ok' | 'warn' | 'fail';
interface CheckResult {
  readonly name: string;
  readonly status: CheckStatus;
  readonly detail: string;
}

/** The audience Anthropic's Kubernetes guide gives the projected token. */
const ANTHROPIC_AUDIENCE = 'https://api.anthropic.com';

/**
 * `auth-shim check` for Workload Identity Federation (issue 17, item 3): what the identity token says of
 * itself (issuer, subject, audience, expiry — decoded, never printed), then one real exchange. Returns the
 * exchanged token so the sample header mapping shows what a request would carry (masked). With an issuer
 * that accepts each JWT once, this exchange is refused as a replay when the sidecar already used the JWT.
 */
export async function checkFederation(
  config: ProxyConfig,
  snap: CredentialSnapshot,
  checks: CheckResult[],
  duration: (ms: number) => string,
): Promise<string | undefined> {
  const settings = exchangeSettings(config);
  if (settings === undefined) return undefined;
  const read = await readIdentityToken(settings.identityTokenFile);
  if (!read.ok) {
    checks.push({ name: 'identity token', status: 'fail', detail: read.problem });
    return undefined;
  }
  const claims = decodeIdentityClaims(read.jwt);
  if (claims === undefined) {
    checks.push({
      name: 'identity token',
      status: 'warn',
      detail: `${settings.identityTokenFile}: a JWT whose claims do not decode; the token endpoint will likely refuse it`,
    });
  } else {
    let status: CheckStatus = 'ok';
    const parts = [
      `issuer ${claims.issuer ?? '(none)'}`,
      `subject ${claims.subject ?? '(none)'}`,
      `audience ${claims.audience.length > 0 ? claims.audience.join(', ') : '(none)'}`,
    ];
    if (claims.expiresAt !== undefined) {
      const left = claims.expiresAt.getTime() - Date.now();
      parts.push(
        left > 0
          ? `expires ${claims.expiresAt.toISOString()} (in ${duration(left)})`
          : `EXPIRED at ${claims.expiresAt.toISOString()} (is the kubelet rotating it?)`,
      );
      if (left <= 0) status = 'fail';
    } else parts.push('no expiry');
    if (!claims.audience.includes(ANTHROPIC_AUDIENCE)) {
      parts.push(`the audience is not ${ANTHROPIC_AUDIENCE}, which Anthropic's Kubernetes guide uses`);
      if (status === 'ok') status = 'warn';
    }
    checks.push({ name: 'identity token', status, detail: `${settings.identityTokenFile}: ${parts.join(', ')}` });
  }

  const keyHeader = exchangeKeyHeader(config);
  const headers: Record<string, string> = {};
  if (keyHeader !== undefined && snap.litellmKey !== undefined) headers[keyHeader] = snap.litellmKey;
  const where = displayUrl(settings.tokenUrl);
  const out = await exchangeToken(settings, headers);
  if (!out.ok) {
    checks.push({ name: 'token exchange', status: 'fail', detail: `${where}: ${out.result}: ${out.problem}` });
    return undefined;
  }
  checks.push({
    name: 'token exchange',
    status: 'ok',
    detail: `${where}: an OAuth token was issued, valid ${out.expiresIn} s (until ${out.expiresAt.toISOString()})`,
  });
  return out.accessToken;
}
