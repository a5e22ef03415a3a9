import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeIdentityClaims, readIdentityToken } from '../../src/credentials/identity-token.js';
import { refreshDelay } from '../../src/credentials/federation-feed.js';
import {
  type ExchangeSettings,
  exchangeToken,
  JWT_BEARER_GRANT,
  MAX_TOKEN_RESPONSE_BYTES,
} from '../../src/credentials/token-exchange.js';
import { createTestIssuer, FEDERATION_IDS } from '../helpers/fake-token-endpoint.js';

/*
 * The token-exchange client against a small loopback server scripted per test: the protocol edge cases
 * the fake token endpoint does not produce (a malformed answer, a 500, a slow endpoint, an oversized
 * body, an error that echoes the assertion, a gateway's error shapes).
 */

let dir: string;
let jwt: string;
let server: Server;
let url: URL;
let answer: (req: IncomingMessage, body: string, res: ServerResponse) => void;
const received: Array<{ headers: IncomingMessage['headers']; body: string }> = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'auth-shim-exchange-'));
  jwt = await (await createTestIssuer()).sign();
  await writeFile(join(dir, 'token'), `${jwt}\n`);
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      received.push({ headers: req.headers, body });
      answer(req, body, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/anthropic/v1/oauth/token`);
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await rm(dir, { recursive: true, force: true });
});

function settings(over: Partial<ExchangeSettings> = {}): ExchangeSettings {
  return {
    tokenUrl: url,
    identityTokenFile: join(dir, 'token'),
    ...FEDERATION_IDS,
    timeoutMs: 5_000,
    ...over,
  };
}

function reply(status: number, body: unknown, raw = false) {
  return (_req: IncomingMessage, _body: string, res: ServerResponse) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(raw ? (body as string) : JSON.stringify(body));
  };
}

const TOKEN = `sk-ant-oat01-${'x'.repeat(80)}`;

describe('exchangeToken (RFC 7523 request, RFC 6749 §5.1/§5.2 answer)', () => {
  it('posts the jwt-bearer grant as JSON with the IDs and the given headers; parses the token and its expiry', async () => {
    answer = reply(200, { access_token: TOKEN, token_type: 'Bearer', expires_in: 3600, scope: 'user:inference' });
    const before = Date.now();
    const out = await exchangeToken(settings({ workspaceId: 'default' }), { 'x-litellm-api-key': 'sk-litellm-1' });
    const after = Date.now();
    expect(out.ok).toBe(true);
    if (!out.ok) return;
    expect(out.accessToken).toBe(TOKEN);
    expect(out.expiresIn).toBe(3600);
    expect(out.expiresAt.getTime()).toBeGreaterThanOrEqual(before + 3_600_000);
    expect(out.expiresAt.getTime()).toBeLessThanOrEqual(after + 3_600_000);
    const last = received.at(-1);
    expect(last?.headers['content-type']).toBe('application/json');
    expect(last?.headers['x-litellm-api-key']).toBe('sk-litellm-1');
    expect(JSON.parse(last?.body ?? '')).toEqual({
      grant_type: JWT_BEARER_GRANT,
      assertion: jwt, // trimmed of the file's newline
      federation_rule_id: FEDERATION_IDS.federationRuleId,
      organization_id: FEDERATION_IDS.organizationId,
      service_account_id: FEDERATION_IDS.serviceAccountId,
      workspace_id: 'default',
    });
  });

  it.each<[string, number, unknown, string, string]>([
    [
      'RFC 6749 §5.2 error',
      400,
      { error: 'invalid_grant', error_description: 'audience mismatch' },
      'refused',
      'refused the exchange (400 invalid_grant: audience mismatch)',
    ],
    [
      "Anthropic's error shape",
      401,
      { type: 'error', error: { type: 'authentication_error', message: 'invalid federation rule' } },
      'refused',
      'refused the exchange (401 authentication_error: invalid federation rule)',
    ],
    [
      "LiteLLM's own error (a bad virtual key)",
      401,
      {
        error: { message: 'Authentication Error, Invalid proxy server token passed.', type: 'auth_error', code: '401' },
      },
      'refused',
      'refused the exchange (401 auth_error: Authentication Error, Invalid proxy server token passed.)',
    ],
    [
      "LiteLLM 1.106's /anthropic route (FastAPI detail)",
      401,
      { detail: 'No Anthropic credential is configured on this proxy' },
      'refused',
      'refused the exchange (401: No Anthropic credential is configured on this proxy)',
    ],
    [
      'a 500 without an OAuth error',
      500,
      'Internal Server Error',
      'invalid_response',
      'answered 500 without an OAuth error',
    ],
    ['a 200 that is not JSON', 200, '<html>', 'invalid_response', 'answered 200 without a JSON object'],
    ['no access_token', 200, { token_type: 'Bearer', expires_in: 60 }, 'invalid_response', 'without access_token'],
    [
      'an API key instead of an OAuth token',
      200,
      { access_token: `sk-ant-api03-${'y'.repeat(40)}`, token_type: 'Bearer', expires_in: 60 },
      'invalid_response',
      'holds an Anthropic API key',
    ],
    [
      'token_type other than Bearer',
      200,
      { access_token: TOKEN, token_type: 'mac', expires_in: 60 },
      'invalid_response',
      'token_type other than Bearer',
    ],
    ['no expires_in', 200, { access_token: TOKEN, token_type: 'Bearer' }, 'invalid_response', 'positive expires_in'],
    [
      'a negative expires_in',
      200,
      { access_token: TOKEN, token_type: 'bearer', expires_in: -5 },
      'invalid_response',
      'positive expires_in',
    ],
  ])('%s', async (_name, status, body, result, problem) => {
    answer = typeof body === 'string' ? reply(status, body, true) : reply(status, body);
    const out = await exchangeToken(settings());
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.result).toBe(result);
    expect(out.status).toBe(status);
    expect(out.problem).toContain(problem);
    expect(out.problem).toContain(`token endpoint ${url.origin}${url.pathname}`);
  });

  it('an endpoint echoing the assertion (or any token) has it masked; control characters and length are bounded', async () => {
    answer = reply(400, {
      error: 'invalid_grant',
      error_description: `bad assertion ${jwt}\r\nInjected: yes, also sk-ant-oat01-${'z'.repeat(30)} ${'a'.repeat(500)}`,
    });
    const out = await exchangeToken(settings());
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.problem).not.toContain(jwt);
    expect(out.problem).not.toContain(jwt.split('.')[1] as string);
    expect(out.problem).not.toContain('sk-ant-oat01-zzz');
    expect(out.problem).not.toMatch(/[\r\n]/);
    expect(out.problem).toContain('<identity token>');
    expect(out.problem.length).toBeLessThan(500);
  });

  it('a tokenless 200 of a JWT-shaped "access_token" is refused without echoing it', async () => {
    answer = reply(200, { access_token: jwt, token_type: 'Bearer', expires_in: 60 });
    const out = await exchangeToken(settings());
    expect(out.ok).toBe(false);
    expect(JSON.stringify(out)).not.toContain(jwt);
  });

  it('a body over the bound is not read further', async () => {
    answer = reply(200, 'x'.repeat(MAX_TOKEN_RESPONSE_BYTES + 10), true);
    const out = await exchangeToken(settings());
    expect(out).toMatchObject({ ok: false, result: 'invalid_response' });
    expect(!out.ok && out.problem).toContain(`a body over ${MAX_TOKEN_RESPONSE_BYTES} bytes`);
  });

  it('an endpoint that never answers is given up after the timeout: unreachable', async () => {
    answer = () => undefined; // holds the request open
    const out = await exchangeToken(settings({ timeoutMs: 300 }));
    expect(out).toMatchObject({ ok: false, result: 'unreachable' });
    expect(!out.ok && out.problem).toContain('no answer within 300 ms');
  });

  it('a closed port: unreachable, naming the error code', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const out = await exchangeToken(settings({ tokenUrl: new URL(`http://127.0.0.1:${port}/v1/oauth/token`) }));
    expect(out).toMatchObject({ ok: false, result: 'unreachable' });
    expect(!out.ok && out.problem).toContain('ECONNREFUSED');
  });

  it('an unreadable or malformed identity token file is an identity_token_error; nothing is sent', async () => {
    const count = received.length;
    const missing = await exchangeToken(settings({ identityTokenFile: join(dir, 'absent') }));
    expect(missing).toMatchObject({ ok: false, result: 'identity_token_error' });
    expect(!missing.ok && missing.problem).toContain('(ENOENT)');
    await writeFile(join(dir, 'not-a-jwt'), 'hello world');
    const bad = await exchangeToken(settings({ identityTokenFile: join(dir, 'not-a-jwt') }));
    expect(!bad.ok && bad.problem).toBe(
      `identity token ${join(dir, 'not-a-jwt')} is not a JWT (header.payload.signature)`,
    );
    expect(received.length).toBe(count);
  });
});

describe('identity token reading and decoding', () => {
  it('decodes issuer, subject, audience and expiry without verifying', async () => {
    const read = await readIdentityToken(join(dir, 'token'));
    expect(read.ok).toBe(true);
    const claims = read.ok ? decodeIdentityClaims(read.jwt) : undefined;
    expect(claims).toMatchObject({
      issuer: 'https://issuer.auth-shim.test',
      subject: 'system:serviceaccount:agents:agent',
      audience: ['https://api.anthropic.com'],
    });
    expect(claims?.expiresAt?.getTime()).toBeGreaterThan(Date.now());
    expect(decodeIdentityClaims('a.b.c')).toBeUndefined();
  });
});

describe('refreshDelay: when the next exchange runs', () => {
  it.each([
    [3_600_000, 55 * 60_000, 'a 1 h token: 5 minutes before expiry (after the kubelet rotated the JWT at 48 min)'],
    [86_400_000, 86_400_000 - 5 * 60_000, 'a 24 h token: 5 minutes before expiry'],
    [600_000, 300_000, 'a 10 min token: at half its life'],
    [60_000, 30_000, 'a 60 s token (the shortest Anthropic issues): at half its life'],
    [3_000, 1_500, 'a 3 s test token: at half its life'],
    [100, 100, 'an absurdly short token: no sooner than 100 ms (no exchange loop)'],
    [10 ** 13, 86_400_000, 'an absurdly long one: within a day (a timer past 2^31 ms would fire at once)'],
  ])('%i ms → %i ms (%s)', (lifetime, expected) => {
    expect(refreshDelay(lifetime)).toBe(expected);
  });
});
