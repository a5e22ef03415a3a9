import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  decodeJwt,
  exportJWK,
  generateKeyPair,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
  jwtVerify,
  SignJWT,
} from 'jose';
import { Agent, fetch as undiciFetch } from 'undici';
import {
  type CredentialCheck,
  type ExtraRoute,
  type FakeAnthropic,
  json,
  type RecordedRequest,
  startFakeAnthropic,
} from '../../src/demo/fake-anthropic.js';

/**
 * A fake of Anthropic's Workload Identity Federation token endpoint (issue 17; Anthropic's wif-reference docs):
 * `POST /v1/oauth/token` with the RFC 7523 jwt-bearer grant as JSON, answered as RFC 6749 §5.1
 * (`access_token`, `token_type`, `expires_in`, `scope`) or §5.2 (`error`, `error_description`).
 * The assertion is verified for real — signature against a JWKS (the API server's own
 * `/openid/v1/jwks`, or a local key set), `iss`, `aud`, `sub`, `exp` — with `jose`, so a test
 * proves that the JWT the shim sends is one Anthropic would accept, not just any string.
 */

export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** The audience Anthropic's Kubernetes guide gives the projected token. */
export const ANTHROPIC_AUDIENCE = 'https://api.anthropic.com';
export const TOKEN_PATH = '/v1/oauth/token';

/** Made-up IDs in the documented shapes (`fdrl_…`, a UUID, `svac_…`); no workspace (the rule allows one). */
export const FEDERATION_IDS = {
  federationRuleId: 'fdrl_01TESTRULE0123456789abcd',
  organizationId: '5b7c9e2a-3f41-4d8e-9a6b-1c2d3e4f5a6b',
  serviceAccountId: 'svac_01TESTSVAC0123456789abcd',
} as const;
/** For a rule that allows several workspaces (then `workspace_id` is required). */
export const WORKSPACE_ID = 'wrkspc_01TESTWRKSPC0123456789ab';

export interface FederationIds {
  readonly federationRuleId: string;
  readonly organizationId: string;
  readonly serviceAccountId: string;
  /** When set the request must carry it; when unset it must carry none. */
  readonly workspaceId?: string | undefined;
}

/** Where the verification keys come from. */
export type JwksSource =
  | { readonly jwks: JSONWebKeySet }
  | {
      /** e.g. `https://127.0.0.1:<port>/openid/v1/jwks` of the test API server. */
      readonly url: string;
      /** PEM of the CA that signed the server's certificate. */
      readonly ca?: string | Buffer;
      readonly headers?: Record<string, string>;
    };

/** An RFC 6749 §5.2 error answer. */
export interface TokenError {
  readonly status: 400 | 401;
  readonly error: string;
  readonly description: string;
}

export interface TokenEndpointOptions {
  readonly keys: JwksSource;
  readonly issuer: string;
  /** Default {@link ANTHROPIC_AUDIENCE}. */
  readonly audience?: string;
  /** Expected `sub`, e.g. `system:serviceaccount:<ns>:<sa>`; any when unset. */
  readonly subject?: string;
  readonly ids?: FederationIds;
  /** `expires_in` of issued access tokens; default 3600 (Anthropic's default). */
  readonly ttlSeconds?: number;
  readonly scope?: string;
  /** Refuse an assertion seen before (`jti`, or the whole token when it has none). */
  readonly singleUse?: boolean;
  /** Refuse every exchange with this error. */
  readonly refuse?: TokenError;
}

/** One exchange as the endpoint saw it; never the JWT itself. */
export interface TokenExchange {
  readonly sub: string | undefined;
  readonly jti: string | undefined;
  /** The assertion's `exp`, in seconds since the epoch. */
  readonly exp: number | undefined;
  readonly workspaceId: string | undefined;
  readonly accepted: boolean;
  readonly status: number;
  readonly error: string | undefined;
  readonly description: string | undefined;
  /** Request headers, lower-cased names (which ones LiteLLM forwarded). */
  readonly headers: Readonly<Record<string, string[]>>;
}

export interface IssuedToken {
  readonly token: string;
  readonly sub: string;
  /** Milliseconds since the epoch. */
  readonly expiresAt: number;
}

/** One request the fake Anthropic checked with {@link FakeTokenEndpoint.authenticate}. */
export interface BearerCheck {
  readonly path: string;
  /** Why it was refused; undefined when it was accepted. */
  readonly refused: string | undefined;
  /** How long the token had left when the request arrived, in ms (undefined when none was issued). */
  readonly remainingMs: number | undefined;
}

export interface FakeTokenEndpoint {
  /** The `/v1/oauth/token` route, for {@link FakeAnthropic.routes}. */
  readonly route: ExtraRoute;
  /** Accepts only `Authorization: Bearer <issued, unexpired, unrevoked token>` with the oauth beta. */
  readonly authenticate: CredentialCheck;
  readonly exchanges: TokenExchange[];
  readonly issued: IssuedToken[];
  readonly checks: BearerCheck[];
  ttlSeconds: number;
  singleUse: boolean;
  refuse: TokenError | undefined;
  subject: string | undefined;
  /**
   * Seconds the endpoint's clock runs ahead when it checks `exp` (0 by default): how a test presents a
   * real API-server JWT, which lives at least 10 minutes, as an expired one.
   */
  clockAheadSeconds: number;
  /** The token is refused from now on, as a revoked one would be. */
  revoke(token: string): void;
  /** Installs the route and the bearer check on a fake Anthropic. */
  attach(fake: FakeAnthropic): void;
  accepted(): TokenExchange[];
}

export const OAUTH_BETA = 'oauth-2025-04-20';

function keySet(source: JwksSource): JWTVerifyGetKey {
  if ('jwks' in source) return createLocalJWKSet(source.jwks);
  const dispatcher = source.ca === undefined ? undefined : new Agent({ connect: { ca: source.ca } });
  return createRemoteJWKSet(new URL(source.url), {
    ...(source.headers !== undefined ? { headers: source.headers } : {}),
    // jose's 5 s default is too short for an API server on a loaded 2-core machine.
    timeoutDuration: 30_000,
    ...(dispatcher !== undefined
      ? {
          [customFetch]: ((url: string, init: RequestInit) =>
            undiciFetch(url, { ...init, dispatcher } as never)) as never,
        }
      : {}),
  });
}

function unverifiedClaims(assertion: unknown): { sub?: string; jti?: string; exp?: number } {
  if (typeof assertion !== 'string') return {};
  try {
    const c = decodeJwt(assertion);
    return {
      ...(typeof c.sub === 'string' ? { sub: c.sub } : {}),
      ...(typeof c.jti === 'string' ? { jti: c.jti } : {}),
      ...(typeof c.exp === 'number' ? { exp: c.exp } : {}),
    };
  } catch {
    return {};
  }
}

export function createFakeTokenEndpoint(opts: TokenEndpointOptions): FakeTokenEndpoint {
  const keys = keySet(opts.keys);
  const ids: FederationIds = opts.ids ?? FEDERATION_IDS;
  const audience = opts.audience ?? ANTHROPIC_AUDIENCE;
  const seen = new Set<string>();
  const revoked = new Set<string>();

  async function exchange(req: RecordedRequest): Promise<{ status: number; body: unknown; record: TokenExchange }> {
    let body: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(req.body.toString('utf8'));
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
        body = parsed as Record<string, unknown>;
    } catch {
      /* refused below as invalid_request */
    }
    const claims = unverifiedClaims(body['assertion']);
    const workspaceId = typeof body['workspace_id'] === 'string' ? body['workspace_id'] : undefined;
    const refuse = (e: TokenError) => ({
      status: e.status,
      body: { error: e.error, error_description: e.description },
      record: {
        sub: claims.sub,
        jti: claims.jti,
        exp: claims.exp,
        workspaceId,
        accepted: false,
        status: e.status,
        error: e.error,
        description: e.description,
        headers: req.headers,
      },
    });
    if (endpoint.refuse !== undefined) return refuse(endpoint.refuse);
    if (body['grant_type'] !== JWT_BEARER_GRANT)
      return refuse({
        status: 400,
        error: 'unsupported_grant_type',
        description: `grant_type must be ${JWT_BEARER_GRANT}`,
      });
    for (const field of ['assertion', 'federation_rule_id', 'organization_id', 'service_account_id'])
      if (typeof body[field] !== 'string' || body[field] === '')
        return refuse({ status: 400, error: 'invalid_request', description: `${field} is required` });
    const expected: Array<[string, string | undefined]> = [
      ['federation_rule_id', ids.federationRuleId],
      ['organization_id', ids.organizationId],
      ['service_account_id', ids.serviceAccountId],
      ['workspace_id', ids.workspaceId],
    ];
    for (const [field, want] of expected)
      if (body[field] !== want)
        return refuse({
          status: 401,
          error: 'invalid_client',
          description: `${field} ${JSON.stringify(body[field] ?? null)} does not match the federation rule`,
        });
    let sub: string;
    let jti: string | undefined;
    try {
      const { payload } = await jwtVerify(body['assertion'] as string, keys, {
        issuer: opts.issuer,
        audience,
        ...(endpoint.subject !== undefined ? { subject: endpoint.subject } : {}),
        ...(endpoint.clockAheadSeconds !== 0
          ? { currentDate: new Date(Date.now() + endpoint.clockAheadSeconds * 1000) }
          : {}),
        requiredClaims: ['exp', 'sub'],
      });
      sub = payload.sub as string;
      jti = payload.jti;
    } catch (err) {
      // jose's messages name the claim and the check, never the token.
      return refuse({
        status: 400,
        error: 'invalid_grant',
        description: `the assertion was rejected: ${(err as Error).message}`,
      });
    }
    const once =
      jti ??
      createHash('sha256')
        .update(body['assertion'] as string)
        .digest('hex');
    if (endpoint.singleUse && seen.has(once))
      return refuse({
        status: 400,
        error: 'invalid_grant',
        description: 'the assertion was already used (jti replay)',
      });
    seen.add(once);
    const token = `sk-ant-oat01-${randomBytes(48).toString('base64url')}`;
    const ttl = endpoint.ttlSeconds;
    endpoint.issued.push({ token, sub, expiresAt: Date.now() + ttl * 1000 });
    return {
      status: 200,
      body: { access_token: token, token_type: 'Bearer', expires_in: ttl, scope: opts.scope ?? 'user:inference' },
      record: {
        sub,
        jti,
        exp: claims.exp,
        workspaceId,
        accepted: true,
        status: 200,
        error: undefined,
        description: undefined,
        headers: req.headers,
      },
    };
  }

  const route: ExtraRoute = async (req: RecordedRequest, res: ServerResponse) => {
    if (req.url.split('?')[0] !== TOKEN_PATH) return false;
    if (req.method !== 'POST') {
      json(res, 405, { error: 'invalid_request', error_description: 'use POST' });
      return true;
    }
    const r = await exchange(req);
    endpoint.exchanges.push(r.record);
    // RFC 6749 §5.1: token responses are never cached.
    json(res, r.status, r.body, { 'cache-control': 'no-store', pragma: 'no-cache' });
    return true;
  };

  const authenticate: CredentialCheck = (req) => {
    const path = req.url.split('?')[0] ?? '';
    const auth = req.headers['authorization'] ?? [];
    const token = auth.length === 1 ? /^Bearer (\S+)$/.exec(auth[0] as string)?.[1] : undefined;
    const issued = token === undefined ? undefined : endpoint.issued.find((t) => t.token === token);
    const remainingMs = issued === undefined ? undefined : issued.expiresAt - Date.now();
    const betas = (req.headers['anthropic-beta'] ?? []).flatMap((v) => v.split(',').map((b) => b.trim()));
    let refused: string | undefined;
    if (token === undefined) refused = 'invalid x-api-key';
    else if (issued === undefined) refused = 'Invalid bearer token';
    else if (revoked.has(token)) refused = 'OAuth token has been revoked.';
    else if ((remainingMs ?? 0) <= 0) refused = 'OAuth token has expired.';
    else if (!betas.includes(OAUTH_BETA)) refused = 'OAuth authentication is currently not supported.';
    endpoint.checks.push({ path, refused, remainingMs });
    return refused;
  };

  const endpoint: FakeTokenEndpoint = {
    route,
    authenticate,
    exchanges: [],
    issued: [],
    checks: [],
    ttlSeconds: opts.ttlSeconds ?? 3600,
    singleUse: opts.singleUse ?? false,
    refuse: opts.refuse,
    subject: opts.subject,
    clockAheadSeconds: 0,
    revoke(token) {
      revoked.add(token);
    },
    attach(fake) {
      fake.routes.push(route);
      fake.authenticate = authenticate;
    },
    accepted() {
      return endpoint.exchanges.filter((e) => e.accepted);
    },
  };
  return endpoint;
}

/** A recording fake Anthropic whose Messages API accepts only the tokens its own token endpoint issued. */
export async function startFederatedAnthropic(
  opts: TokenEndpointOptions,
): Promise<{ fake: FakeAnthropic; endpoint: FakeTokenEndpoint }> {
  const fake = await startFakeAnthropic();
  const endpoint = createFakeTokenEndpoint(opts);
  endpoint.attach(fake);
  return { fake, endpoint };
}

/** The JSON body of a jwt-bearer exchange with the made-up IDs, as Anthropic documents it. */
export function grantBody(assertion: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    grant_type: JWT_BEARER_GRANT,
    assertion,
    federation_rule_id: FEDERATION_IDS.federationRuleId,
    organization_id: FEDERATION_IDS.organizationId,
    service_account_id: FEDERATION_IDS.serviceAccountId,
    ...extra,
  };
}

/** The proxy options that turn federation on with the made-up IDs; the agent holds no credential. */
export function federationEnv(identityTokenFile: string): Record<string, string> {
  return {
    AUTH_SHIM_IDENTITY_TOKEN_FILE: identityTokenFile,
    AUTH_SHIM_FEDERATION_RULE_ID: FEDERATION_IDS.federationRuleId,
    AUTH_SHIM_ORGANIZATION_ID: FEDERATION_IDS.organizationId,
    AUTH_SHIM_SERVICE_ACCOUNT_ID: FEDERATION_IDS.serviceAccountId,
    AUTH_SHIM_CREDENTIAL_SOURCE: 'shim-only',
  };
}

export interface TokenServer {
  readonly endpoint: FakeTokenEndpoint;
  /** The full token URL, for AUTH_SHIM_TOKEN_URL. */
  readonly url: string;
  readonly fake: FakeAnthropic;
  close(): Promise<void>;
}

/**
 * The token endpoint alone on 127.0.0.1:0 (AUTH_SHIM_TOKEN_URL pointing somewhere other than the
 * upstream). It is a recording fake Anthropic that answers nothing but the token route.
 */
export async function startFakeTokenEndpoint(opts: TokenEndpointOptions): Promise<TokenServer> {
  const endpoint = createFakeTokenEndpoint(opts);
  const fake = await startFakeAnthropic();
  fake.routes.push(endpoint.route);
  fake.respond = (_req, res) => json(res, 404, { error: 'invalid_request', error_description: 'not found' });
  return { endpoint, url: `${fake.url}${TOKEN_PATH}`, fake, close: () => fake.close() };
}

export interface TestIssuer {
  readonly issuer: string;
  readonly jwks: JSONWebKeySet;
  /** A signed JWT, by default for {@link ANTHROPIC_AUDIENCE}, valid for an hour, with a fresh `jti`. */
  sign(claims?: {
    sub?: string;
    aud?: string;
    iss?: string;
    expiresInSeconds?: number;
    jti?: string | null;
  }): Promise<string>;
}

/**
 * A local OIDC issuer (RS256, as the API server signs) for tests that need no API server; the
 * control-plane tests use the real one.
 */
export async function createTestIssuer(issuer = 'https://issuer.auth-shim.test'): Promise<TestIssuer> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const kid = randomUUID();
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  return {
    issuer,
    jwks: { keys: [jwk] },
    async sign(c = {}) {
      const now = Math.floor(Date.now() / 1000);
      const jwt = new SignJWT({})
        .setProtectedHeader({ alg: 'RS256', kid })
        .setIssuer(c.iss ?? issuer)
        .setSubject(c.sub ?? 'system:serviceaccount:agents:agent')
        .setAudience(c.aud ?? ANTHROPIC_AUDIENCE)
        .setIssuedAt(now)
        .setExpirationTime(now + (c.expiresInSeconds ?? 3600));
      if (c.jti !== null) jwt.setJti(c.jti ?? randomUUID());
      return jwt.sign(privateKey);
    },
  };
}
