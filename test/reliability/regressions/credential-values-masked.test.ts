import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { loadProxyConfig } from '../../../src/config/proxy-config.js';
import { KnownSecrets } from '../../../src/credentials/known-secrets.js';
import { startFakeAnthropic, type FakeAnthropic } from '../../../src/demo/fake-anthropic.js';
import { createLogger } from '../../../src/telemetry/logger.js';
import { OAUTH, startShim, type Shim } from '../../helpers/shim.js';

/**
 * Issue 15, items 9 and 10. LiteLLM error bodies were masked only for `sk-…` fragments, so a
 * JWT-shaped LiteLLM key (a federated or SSO-issued one) echoed in an upstream error reached the
 * client whole. Now the shim's own current credential values are masked by value in every error
 * body it holds back and in every log line, whatever their shape. And a key in the path of
 * AUTH_SHIM_UPSTREAM_URL no longer appears in the `listening` line.
 */
const JWT_KEY =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhZ2VudC0xIiwidGVhbSI6ImFpIn0.Tm90QVJlYWxTaWduYXR1cmVfMDEyMzQ1Njc4OQ';

let shim: Shim | undefined;
let fake: FakeAnthropic | undefined;
afterEach(async () => {
  await shim?.close();
  shim = undefined;
  await fake?.close();
  fake = undefined;
});

async function shimWithJwtKey(answer: (res: import('node:http').ServerResponse) => void): Promise<Shim> {
  fake = await startFakeAnthropic();
  fake.respond = (_req, res) => answer(res);
  return startShim({
    upstream: fake,
    files: { litellm: JWT_KEY, oauth: OAUTH },
    env: {
      AUTH_SHIM_LITELLM_KEY_FILE: '{dir}/litellm',
      AUTH_SHIM_OAUTH_TOKEN_FILE: '{dir}/oauth',
      AUTH_SHIM_CREDENTIAL_SOURCE: 'shim-only',
    },
  });
}

async function call(s: Shim) {
  const res = await request(`${s.proxy.url}/v1/messages`, {
    method: 'POST',
    headers: { 'x-api-key': 'placeholder', 'content-type': 'application/json' },
    body: '{}',
    dispatcher: s.client,
  });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

const litellmEnvelope = JSON.stringify({
  error: {
    message:
      'Authentication Error, Invalid proxy server token passed. ' +
      `Received API Key = ${JWT_KEY}, Key Hash (Token) =abc`,
    type: 'auth_error',
    param: 'None',
    code: '401',
  },
});

describe("regression: the shim's credential values are masked by value", () => {
  it('a JWT-shaped LiteLLM key echoed in a LiteLLM error envelope does not reach the client', async () => {
    shim = await shimWithJwtKey((res) =>
      res.writeHead(401, { 'content-type': 'application/json' }).end(litellmEnvelope),
    );
    expect(shim.fake.requests).toHaveLength(0);
    const r = await call(shim);
    expect(shim.fake.requests.at(-1)?.headers['x-litellm-api-key']).toEqual([JWT_KEY]);
    expect(r.status).toBe(401);
    expect(JSON.parse(r.text)).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
    expect(r.text).not.toContain(JWT_KEY);
    expect(r.text).toContain(`***(${JWT_KEY.length} chars)`);
  });

  it("…nor in another gateway's JSON or text error, with a correct Content-Length", async () => {
    for (const [type, body] of [
      ['application/json', JSON.stringify({ detail: `key ${JWT_KEY} is blocked`, token: OAUTH })],
      ['text/plain', `forbidden: ${JWT_KEY}\n`],
    ] as const) {
      await shim?.close();
      await fake?.close();
      shim = await shimWithJwtKey((res) =>
        res.writeHead(403, { 'content-type': type, 'content-length': Buffer.byteLength(body) }).end(body),
      );
      const r = await call(shim);
      expect(r.status).toBe(403);
      expect(r.text).not.toContain(JWT_KEY);
      expect(r.text).not.toContain(OAUTH);
      expect(Number(r.headers['content-length'])).toBe(Buffer.byteLength(r.text));
    }
  });

  it('an Anthropic error LiteLLM wrapped, echoing the OAuth token, is unwrapped and masked', async () => {
    const inner = JSON.stringify({
      type: 'error',
      error: { type: 'authentication_error', message: `invalid x-api-key ${OAUTH}` },
      request_id: 'req_1',
    });
    shim = await shimWithJwtKey((res) =>
      res
        .writeHead(401, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: { message: inner, type: 'None', param: 'None', code: '401' } })),
    );
    const r = await call(shim);
    expect(r.headers['x-auth-shim-unwrapped']).toBe('litellm-error-envelope');
    expect(r.text).not.toContain(OAUTH);
    expect(JSON.parse(r.text)).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
  });

  it('a success body passes byte for byte (masking only touches error bodies)', async () => {
    const body = JSON.stringify({ type: 'message', content: [{ type: 'text', text: 'hello' }] });
    shim = await shimWithJwtKey((res) => res.writeHead(200, { 'content-type': 'application/json' }).end(body));
    expect((await call(shim)).text).toBe(body);
  });

  it('every log line is masked by value, whatever field carries the value', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write: (c: Buffer, _e, cb) => {
        lines.push(c.toString());
        cb();
      },
    });
    const secrets = new KnownSecrets();
    secrets.set([JWT_KEY, OAUTH]);
    const log = createLogger('info', sink, secrets.mask);
    log.info({ detail: `upstream said ${JWT_KEY}` }, `message with ${OAUTH}`);
    log.flush();
    expect(lines.join('')).not.toContain(JWT_KEY);
    expect(lines.join('')).not.toContain(OAUTH);
    expect(lines.join('')).toContain('upstream said ***(');
  });

  it('after a rotation the previous value is still masked (requests in flight hold it)', () => {
    const secrets = new KnownSecrets();
    secrets.set(['first-secret-value-123456']);
    secrets.set(['second-secret-value-654321']);
    expect(secrets.mask('a first-secret-value-123456 b second-secret-value-654321')).toBe(
      'a ***(25 chars) b ***(26 chars)',
    );
    secrets.set(['third-secret-value-000000']);
    expect(secrets.mask('first-secret-value-123456')).toBe('first-secret-value-123456');
    secrets.set(['key+with.regex$chars(1)[2]|x\\y/z']);
    expect(secrets.mask('>key+with.regex$chars(1)[2]|x\\y/z<')).toBe('>***(32 chars)<');
    expect(secrets.mask('keyXwith.regex$chars(1)[2]|x\\y/z')).toBe('keyXwith.regex$chars(1)[2]|x\\y/z');
  });
});

describe('regression: a secret in AUTH_SHIM_UPSTREAM_URL is never logged', () => {
  it('path segments that are not plain names are masked in the listening line; requests use the real one', async () => {
    fake = await startFakeAnthropic();
    const secretSegment = 'sk-gw-9fQ2mZkW7xLp0aB3';
    const opaque = 'X9fQ2mZkTq81Lw';
    shim = await startShim({ upstream: fake, upstreamUrl: `${fake.url}/anthropic/${secretSegment}/${opaque}` });
    const listening = shim.logs.find((l) => l.includes('"event":"listening"')) ?? '';
    expect(listening).toContain(`"upstream":"${fake.url}/anthropic/***/***"`);
    const all = shim.logs.join('\n');
    expect(all).not.toContain(secretSegment);
    expect(all).not.toContain(opaque);
    await request(`${shim.proxy.url}/v1/models`, { headers: { 'x-api-key': OAUTH }, dispatcher: shim.client }).then(
      (r) => r.body.text(),
    );
    expect(fake.requests.at(-1)?.url).toBe(`/anthropic/${secretSegment}/${opaque}/v1/models`);
    expect(shim.logs.join('\n')).not.toContain(secretSegment);
  });

  it('user info and a query string are refused at start, without echoing them', () => {
    for (const url of [
      'http://user:hunter2-pass@litellm:4000/anthropic',
      'http://litellm:4000/anthropic?key=hunter2-pass',
    ]) {
      expect(() => loadProxyConfig({ AUTH_SHIM_UPSTREAM_URL: url })).toThrow(/AUTH_SHIM_UPSTREAM_URL must not/);
      try {
        loadProxyConfig({ AUTH_SHIM_UPSTREAM_URL: url });
      } catch (err) {
        expect(String(err)).not.toContain('hunter2');
      }
    }
  });
});
