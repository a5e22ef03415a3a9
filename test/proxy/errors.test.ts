import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import { request } from 'undici';
import { sseEvents, startFakeAnthropic } from '../../src/demo/fake-anthropic.js';
import { API_KEY, LITELLM_KEY, OAUTH, startShim, type Shim } from '../helpers/shim.js';

let shim: Shim | undefined;
afterEach(async () => {
  await shim?.close();
  shim = undefined;
});

async function call(
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string | Readable } = {},
) {
  const s = shim as Shim;
  const res = await request(`${s.proxy.url}${path}`, {
    method: (init.method ?? 'POST') as 'POST',
    headers: init.headers ?? { 'x-api-key': OAUTH },
    body: init.body ?? (init.method === 'GET' ? null : '{}'),
    dispatcher: s.client,
  });
  const text = await res.body.text();
  return {
    status: res.statusCode,
    headers: res.headers,
    text,
    json: () => JSON.parse(text) as { type: string; error: { type: string; message: string } },
  };
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function expectAnthropicError(
  r: Awaited<ReturnType<typeof call>>,
  status: number,
  type: string,
  retry: boolean,
  says: string,
) {
  expect(r.status).toBe(status);
  expect(r.headers['content-type']).toBe('application/json');
  expect(r.headers['x-should-retry']).toBe(String(retry));
  const body = r.json();
  expect(body.type).toBe('error');
  expect(body.error.type).toBe(type);
  expect(body.error.message).toContain(says);
}

describe('errors the shim makes itself (nothing forwarded)', () => {
  it('401 authentication_error + x-should-retry: false when no credential is available', async () => {
    shim = await startShim();
    expectAnthropicError(
      await call('/v1/messages', { headers: {} }),
      401,
      'authentication_error',
      false,
      'no x-api-key or authorization header',
    );
    expect(shim.fake.requests).toHaveLength(0);
  });

  it('403 permission_error + x-should-retry: false for a credential kind that is not allowed', async () => {
    shim = await startShim({ env: { AUTH_SHIM_ALLOWED_CREDENTIALS: 'oauth' } });
    expectAnthropicError(
      await call('/v1/messages', { headers: { 'x-api-key': API_KEY } }),
      403,
      'permission_error',
      false,
      'not allowed',
    );
    expect(shim.fake.requests).toHaveLength(0);
  });

  it('404 not_found_error + x-should-retry: false for paths off the allowlist, LiteLLM key never sent', async () => {
    shim = await startShim({ files: { k: LITELLM_KEY }, env: { AUTH_SHIM_LITELLM_KEY_FILE: '{dir}/k' } });
    for (const p of [
      '/key/generate',
      '/v1/messages/%2e%2e/%2e%2e/key/info',
      '/health',
      '/v1/messages/../../user/new',
    ]) {
      expectAnthropicError(await call(p), 404, 'not_found_error', false, 'auth-shim');
    }
    expect(shim.fake.requests).toHaveLength(0);
  });

  it('405 for other methods, with Allow', async () => {
    shim = await startShim();
    const r = await call('/v1/messages', { method: 'DELETE' });
    expectAnthropicError(r, 405, 'invalid_request_error', false, 'DELETE');
    expect(r.headers['allow']).toBe('GET, HEAD, POST');
  });

  it('413 request_too_large for a declared body over AUTH_SHIM_MAX_BODY_BYTES', async () => {
    shim = await startShim({ env: { AUTH_SHIM_MAX_BODY_BYTES: '1000' } });
    expectAnthropicError(
      await call('/v1/messages', { body: 'x'.repeat(1001) }),
      413,
      'request_too_large',
      false,
      'AUTH_SHIM_MAX_BODY_BYTES',
    );
    expect(shim.fake.requests).toHaveLength(0);
  });

  it('413 for a chunked body that grows past the limit', async () => {
    shim = await startShim({ env: { AUTH_SHIM_MAX_BODY_BYTES: '1000' } });
    const r = await call('/v1/messages', { body: Readable.from([Buffer.alloc(600), Buffer.alloc(600)]) });
    expectAnthropicError(r, 413, 'request_too_large', false, 'AUTH_SHIM_MAX_BODY_BYTES');
  });

  it('400 for two x-api-key headers', async () => {
    shim = await startShim();
    const r = await request(`${shim.proxy.url}/v1/messages`, {
      method: 'POST',
      headers: ['x-api-key', OAUTH, 'x-api-key', API_KEY],
      body: '{}',
      dispatcher: shim.client,
    });
    expect(r.statusCode).toBe(400);
    expect(await r.body.text()).toContain('more than one x-api-key');
  });

  it('503 not_ready (retryable) while a configured credential file is missing', async () => {
    shim = await startShim({
      env: { AUTH_SHIM_OAUTH_TOKEN_FILE: '{dir}/missing-token', AUTH_SHIM_CREDENTIAL_SOURCE: 'shim-only' },
    });
    expectAnthropicError(await call('/v1/messages', { headers: {} }), 503, 'api_error', true, 'does not exist');
    const ready = await request(`${shim.proxy.adminUrl}/readyz`);
    expect(ready.statusCode).toBe(503);
    expect(await ready.body.text()).toContain('AUTH_SHIM_OAUTH_TOKEN_FILE');
  });
});

describe('upstream failures', () => {
  it('unreachable upstream → 502 api_error + x-should-retry: true, and the next request works', async () => {
    const port = await freePort();
    shim = await startShim({ upstreamUrl: `http://127.0.0.1:${port}` });
    expectAnthropicError(await call('/v1/messages'), 502, 'api_error', true, 'unreachable (ECONNREFUSED)');
  });

  it('a connection refused before any byte is sent is retried once', async () => {
    const port = await freePort();
    const fake = await startFakeAnthropic();
    await fake.close();
    shim = await startShim({ upstreamUrl: `http://127.0.0.1:${port}`, upstream: fake });
    // Start the real upstream on that port only once the first connect has failed.
    const late = await startFakeAnthropic();
    await late.close();
    const channel = 'undici:client:connectError';
    let _listening: Promise<void> | undefined;
    const onError = () => {
      _listening ??= new Promise((r) => late.server.listen({ host: '127.0.0.1', port }, () => r()));
    };
    subscribe(channel, onError);
    onTestFinished(async () => {
      unsubscribe(channel, onError);
      late.server.closeAllConnections();
      await new Promise((r) => late.server.close(() => r(undefined)));
    });
    const r = await call('/v1/messages', { body: '{"model":"m"}' });
    expect(r.status).toBe(200);
    expect(late.requests).toHaveLength(1);
    expect(late.requests[0]?.body.toString()).toBe('{"model":"m"}');
  });

  it('no response headers within AUTH_SHIM_UPSTREAM_HEADERS_TIMEOUT_MS → 504', async () => {
    shim = await startShim({ env: { AUTH_SHIM_UPSTREAM_HEADERS_TIMEOUT_MS: '200' } });
    shim.fake.respond = () => undefined; // never answers
    expectAnthropicError(await call('/v1/messages'), 504, 'api_error', true, 'no response headers in time');
  });

  it('a stream that stalls past AUTH_SHIM_UPSTREAM_BODY_TIMEOUT_MS ends with event: error, not silence', async () => {
    shim = await startShim({ env: { AUTH_SHIM_UPSTREAM_BODY_TIMEOUT_MS: '200' } });
    const events = sseEvents('m', ['a']);
    shim.fake.respond = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(events[0]);
      res.write(events[1]); // then silence
    };
    const r = await call('/v1/messages');
    expect(r.status).toBe(200);
    expect(r.text.startsWith((events[0] as string) + events[1])).toBe(true);
    const tail = r.text.slice(((events[0] as string) + events[1]).length);
    expect(tail).toMatch(
      new RegExp(
        String.raw`^event: error\ndata: \{"type":"error","error":\{"type":"api_error",` +
          String.raw`"message":"auth-shim: .*stopped sending.*"\}\}\n\n$`,
      ),
    );
  });

  it('a stream reset by the upstream at an event boundary ends with event: error', async () => {
    shim = await startShim();
    const events = sseEvents('m', ['a']);
    shim.fake.respond = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(events.slice(0, 3).join(''), () => setTimeout(() => res.socket?.destroy(), 20));
    };
    const r = await call('/v1/messages');
    expect(r.text).toContain('event: error\ndata: {"type":"error","error":{"type":"api_error"');
    expect(r.text.startsWith(events.slice(0, 3).join(''))).toBe(true);
  });

  it('a stream cut in the middle of an event fails the response instead of completing it', async () => {
    shim = await startShim();
    shim.fake.respond = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('event: content_block_delta\ndata: {"type":"content_blo', () =>
        setTimeout(() => res.socket?.destroy(), 20),
      );
    };
    await expect(call('/v1/messages')).rejects.toThrow();
  });

  it('a JSON body cut short fails the response instead of completing it', async () => {
    shim = await startShim();
    shim.fake.respond = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"id":"msg_', () => setTimeout(() => res.socket?.destroy(), 20));
    };
    await expect(call('/v1/messages')).rejects.toThrow();
  });
});

describe('upstream errors pass through; old LiteLLM envelopes are un-wrapped', () => {
  it('an Anthropic error passes byte for byte with its headers', async () => {
    shim = await startShim();
    const body =
      '{"type":"error","error":{"type":"rate_limit_error",' +
      '"message":"Number of request tokens has exceeded your per-minute rate limit"},"request_id":"req_1"}';
    shim.fake.respond = (_req, res) => {
      res.writeHead(429, {
        'content-type': 'application/json',
        'request-id': 'req_1',
        'retry-after': '30',
        'x-should-retry': 'true',
        'anthropic-ratelimit-unified-status': 'rejected',
      });
      res.end(body);
    };
    const r = await call('/v1/messages');
    expect(r.status).toBe(429);
    expect(r.text).toBe(body);
    expect(r.headers).toMatchObject({
      'request-id': 'req_1',
      'retry-after': '30',
      'x-should-retry': 'true',
      'anthropic-ratelimit-unified-status': 'rejected',
    });
    expect(r.headers['x-auth-shim-unwrapped']).toBeUndefined();
  });

  it('the JSON-string envelope → the inner error with the same status, request-id restored', async () => {
    shim = await startShim();
    const inner =
      '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_011Inner"}';
    shim.fake.respond = (_req, res) => {
      res.writeHead(529, { 'content-type': 'application/json', 'x-litellm-call-id': 'abc' });
      res.end(JSON.stringify({ error: { message: inner, type: 'None', param: 'None', code: '529' } }));
    };
    const r = await call('/v1/messages');
    expect(r.status).toBe(529);
    expect(r.text).toBe(inner);
    expect(r.headers['request-id']).toBe('req_011Inner');
    expect(r.headers['x-litellm-call-id']).toBe('abc');
    expect(r.headers['content-length']).toBe(String(Buffer.byteLength(inner)));
    expect(r.headers['x-auth-shim-unwrapped']).toBe('litellm-error-envelope');
  });

  it('the bytes-repr envelope (stream requests) → the inner error', async () => {
    shim = await startShim();
    const inner = '{"type":"error","error":{"type":"rate_limit_error","message":"rate limited"},"request_id":"req_2"}';
    shim.fake.respond = (_req, res) => {
      res.writeHead(429, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `b'${inner}'`, type: 'None', param: 'None', code: '429' } }));
    };
    const r = await call('/v1/messages', { body: '{"stream":true}' });
    expect(r.status).toBe(429);
    expect(r.json()).toEqual(JSON.parse(inner));
  });

  it("LiteLLM's own errors (bad key) become Anthropic-shaped, not retried, no key fragment", async () => {
    shim = await startShim();
    const own = JSON.stringify({
      error: {
        message: 'Authentication Error, Invalid proxy server token passed. Received API Key = sk-...ey',
        type: 'auth_error',
        param: 'None',
        code: '401',
      },
    });
    shim.fake.respond = (_req, res) => void res.writeHead(401, { 'content-type': 'application/json' }).end(own);
    const r = await call('/v1/messages');
    expectAnthropicError(
      r,
      401,
      'authentication_error',
      false,
      'LiteLLM: Authentication Error, Invalid proxy server token passed.',
    );
    expect(r.text).not.toContain('sk-...ey');
    expect(r.headers['x-auth-shim-unwrapped']).toBe('litellm-error');
  });

  it('error bodies from other gateways are left byte for byte', async () => {
    shim = await startShim();
    const other = '{"error":{"message":"quota","code":7}}';
    shim.fake.respond = (_req, res) => void res.writeHead(429, { 'content-type': 'application/json' }).end(other);
    const r = await call('/v1/messages');
    expect(r.text).toBe(other);
  });
});
