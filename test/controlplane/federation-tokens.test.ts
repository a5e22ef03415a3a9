import { lstat, mkdtemp, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ANTHROPIC_AUDIENCE,
  grantBody,
  startFakeTokenEndpoint,
  type TokenServer,
} from '../helpers/fake-token-endpoint.js';
import { type ControlPlane, createNamespace, startControlPlane } from './cluster.js';
import {
  apiserverJwks,
  createPod,
  createServiceAccount,
  discovery,
  projectedToken,
  requestToken,
  serviceAccountSubject,
} from './service-account-tokens.js';

/**
 * The real API server as the OIDC issuer (issue 17, item 4): its TokenRequest JWTs, discovery
 * document and JWKS, checked by the fake token endpoint with jose exactly as Anthropic's would.
 */

const NS = 'agents';
const SA = 'agent';

let cp: ControlPlane;
let tokens: TokenServer;
let dir: string;

async function exchange(assertion: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await request(tokens.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(grantBody(assertion)),
  });
  return { status: r.statusCode, body: (await r.body.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  cp = await startControlPlane();
  await createNamespace(cp, NS);
  await createServiceAccount(cp, NS, SA);
  await createServiceAccount(cp, NS, 'other');
  const { issuer } = await discovery(cp);
  tokens = await startFakeTokenEndpoint({
    keys: await apiserverJwks(cp),
    issuer,
    subject: serviceAccountSubject(NS, SA),
  });
  dir = await mkdtemp(join(tmpdir(), 'auth-shim-projected-'));
}, 120_000);

afterAll(async () => {
  await tokens?.close();
  await cp?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('service-account tokens from the real API server', () => {
  it('publishes an OIDC discovery document naming its issuer and an RS256 JWKS', async () => {
    const d = await discovery(cp);
    expect(d.issuer).toBe('https://kubernetes.default.svc.cluster.local');
    expect(d.jwks_uri).toMatch(/\/openid\/v1\/jwks$/);
    expect(d.id_token_signing_alg_values_supported).toContain('RS256');
    const jwks = JSON.parse(await cp.kubectlOk(['get', '--raw', '/openid/v1/jwks'])) as {
      keys: Array<Record<string, string>>;
    };
    expect(jwks.keys.map((k) => [k['kty'], k['alg'], k['use']])).toEqual([['RSA', 'RS256', 'sig']]);
  });

  it('issues a JWT for the Anthropic audience that the endpoint verifies against the live JWKS', async () => {
    const jwt = await requestToken(cp, { namespace: NS, serviceAccount: SA });
    const claims = decodeJwt(jwt);
    expect(claims).toMatchObject({
      iss: 'https://kubernetes.default.svc.cluster.local',
      aud: [ANTHROPIC_AUDIENCE],
      sub: serviceAccountSubject(NS, SA),
    });
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(600);
    const r = await exchange(jwt);
    expect(r.status).toBe(200);
    expect(r.body['token_type']).toBe('Bearer');
    expect(tokens.endpoint.exchanges.at(-1)).toMatchObject({
      accepted: true,
      sub: serviceAccountSubject(NS, SA),
      jti: claims.jti,
    });
  });

  it('has the endpoint refuse a token for the API server audience, and one of another ServiceAccount', async () => {
    const apiAudience = await requestToken(cp, {
      namespace: NS,
      serviceAccount: SA,
      audience: 'https://kubernetes.default.svc.cluster.local',
    });
    const wrongAud = await exchange(apiAudience);
    expect(wrongAud.status).toBe(400);
    expect(wrongAud.body['error_description']).toMatch(/"aud"/);
    const other = await exchange(await requestToken(cp, { namespace: NS, serviceAccount: 'other' }));
    expect(other.status).toBe(400);
    expect(other.body['error_description']).toMatch(/"sub"/);
  });

  it('has the endpoint refuse a JWT once its exp has passed', async () => {
    const jwt = await requestToken(cp, { namespace: NS, serviceAccount: SA });
    tokens.endpoint.clockAheadSeconds = 601;
    try {
      const late = await exchange(jwt);
      expect(late.status).toBe(400);
      expect(late.body['error_description']).toMatch(/"exp"/);
    } finally {
      tokens.endpoint.clockAheadSeconds = 0;
    }
    expect((await exchange(jwt)).status).toBe(200);
  });

  it('writes a pod-bound token kubelet-style and swaps it atomically on rotation', async () => {
    const pod = await createPod(cp, NS, 'agent-0', SA);
    const projected = await projectedToken(cp, dir, { namespace: NS, serviceAccount: SA, pod });
    expect((await lstat(projected.file)).isSymbolicLink()).toBe(true);
    const first = await readFile(projected.file, 'utf8');
    const firstData = await readlink(join(dir, '..data'));
    expect(decodeJwt(first)['kubernetes.io']).toMatchObject({ pod: { name: 'agent-0', uid: pod.uid } });

    const second = await projected.rotate();
    expect(await readFile(projected.file, 'utf8')).toBe(second);
    expect(await readlink(join(dir, '..data'))).not.toBe(firstData);
    expect(decodeJwt(second).jti).not.toBe(decodeJwt(first).jti);
    expect((await exchange(second)).status).toBe(200);
  });
});
