import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import { request } from 'undici';
import { claudeCodeRequest } from '../../src/demo/claude-code-request.js';
import { sseEvents, startFakeAnthropic } from '../../src/demo/fake-anthropic.js';
import { API_KEY, LITELLM_KEY, OAUTH, startShim, type Shim } from '../helpers/shim.js';

let shim: Shim | undefined;
afterEach(async () => {
  await shim?.close();
  shim = undefined;
});

describe('forwarding', () => {
  it('a Claude-Code-shaped request arrives translated, everything else byte for byte', async () => {
    shim = await startShim({
      files: { litellm: `${LITELLM_KEY}\n` },
      env: { AUTH_SHIM_LITELLM_KEY_FILE: '{dir}/litellm' },
    });
    const { headers, body } = claudeCodeRequest(OAUTH);
    const res = await request(`${shim.proxy.url}/v1/messages?beta=true`, {
      method: 'POST',
      headers,
      body,
      dispatcher: shim.client,
    });
    const text = await res.body.text();
    expect(res.statusCode).toBe(200);

    const got = shim.fake.requests[0];
    expect(got?.url).toBe('/v1/messages?beta=true');
    expect(got?.body.equals(Buffer.from(body))).toBe(true);
    const h = got?.headers ?? {};
    expect(h['authorization']).toEqual([`Bearer ${OAUTH}`]);
    expect(h['x-api-key']).toBeUndefined();
    expect(h['x-litellm-api-key']).toEqual([LITELLM_KEY]);
    expect(h['anthropic-beta']).toEqual([`${headers['anthropic-beta']},oauth-2025-04-20`]);
    expect(h['host']).toEqual([new URL(shim.fake.url).host]);
    for (const name of [
      'anthropic-version',
      'anthropic-dangerous-direct-browser-access',
      'user-agent',
      'x-app',
      'x-claude-code-session-id',
      'x-stainless-lang',
      'x-stainless-retry-count',
      'content-type',
      'content-length',
    ]) {
      expect(h[name], name).toEqual([headers[name]]);
    }
    // The events the client got are the events the fake wrote.
    expect(text.split('event: ').length - 1).toBe(
      sseEvents('m', ['Hello', ' from', ' the', ' fake', ' Anthropic.']).length,
    );
    expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
  });

  it('the upstream path prefix is kept and the query string forwarded as sent', async () => {
    const fake = await startFakeAnthropic();
    shim = await startShim({ upstream: fake, upstreamUrl: `${fake.url}/anthropic/` });
    onTestFinished(() => fake.close());
    shim.fake.respond = (_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    const res = await request(`${shim.proxy.url}/v1/messages/count_tokens?beta=true&x=%2F`, {
      method: 'POST',
      headers: { 'x-api-key': API_KEY },
      body: '{}',
      dispatcher: shim.client,
    });
    await res.body.text();
    expect(shim.fake.requests[0]?.url).toBe('/anthropic/v1/messages/count_tokens?beta=true&x=%2F');
  });

  it('binary request and response bodies pass byte-identical (1 MiB, Content-Length)', async () => {
    shim = await startShim();
    const payload = randomBytes(1024 * 1024);
    shim.fake.respond = (req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(req.body.length) });
      res.end(req.body);
    };
    const res = await request(`${shim.proxy.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': API_KEY, 'content-type': 'application/octet-stream' },
      body: payload,
      dispatcher: shim.client,
    });
    const back = Buffer.from(await res.body.arrayBuffer());
    expect(shim.fake.requests[0]?.body.equals(payload)).toBe(true);
    expect(back.equals(payload)).toBe(true);
    expect(res.headers['content-length']).toBe(String(payload.length));
  });

  it('a chunked request body (no Content-Length) is forwarded byte-identical', async () => {
    shim = await startShim();
    const parts = [randomBytes(1000), randomBytes(70_000), randomBytes(5)];
    const res = await request(`${shim.proxy.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': API_KEY },
      body: Readable.from(parts),
      dispatcher: shim.client,
    });
    await res.body.text();
    expect(shim.fake.requests[0]?.headers['transfer-encoding']).toEqual(['chunked']);
    expect(shim.fake.requests[0]?.body.equals(Buffer.concat(parts))).toBe(true);
  });

  it('SSE events are flushed one by one: the upstream sends event n+1 only after the client got event n', async () => {
    shim = await startShim();
    const events = sseEvents('claude-sonnet-4-5', ['a', 'b', 'c', 'd']);
    let received = 0;
    const waiters: Array<() => void> = [];
    const clientHas = (n: number): Promise<void> =>
      new Promise((resolve) => (received >= n ? resolve() : waiters.push(() => received >= n && resolve())));
    shim.fake.respond = async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (let i = 0; i < events.length; i++) {
        res.write(events[i]);
        // If the shim buffered anything, this would wait forever (and the test time out).
        await clientHas(i + 1);
      }
      res.end();
    };
    const res = await request(`${shim.proxy.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': OAUTH },
      body: '{"stream":true}',
      dispatcher: shim.client,
    });
    let text = '';
    for await (const chunk of res.body) {
      text += (chunk as Buffer).toString('utf8');
      received = text.split('\n\n').length - 1;
      for (const w of waiters.splice(0)) w();
    }
    expect(text).toBe(events.join(''));
  });

  it('upstream response headers pass unchanged (rate limits, retry-after, request-id, order)', async () => {
    shim = await startShim();
    const sent = [
      'request-id',
      'req_abc',
      'anthropic-ratelimit-unified-status',
      'allowed',
      'anthropic-ratelimit-unified-reset',
      '1767225600',
      'anthropic-ratelimit-unified-5h-utilization',
      '0.42',
      'llm_provider-anthropic-ratelimit-requests-remaining',
      '99',
      'retry-after',
      '17',
      'x-should-retry',
      'true',
      'X-Custom',
      'Mixed Case',
      'content-type',
      'application/json',
      'content-length',
      '2',
    ];
    shim.fake.respond = (_req, res) => {
      res.writeHead(200, sent);
      res.end('{}');
    };
    const res = await request(`${shim.proxy.url}/v1/models`, {
      headers: { 'x-api-key': OAUTH },
      dispatcher: shim.client,
    });
    await res.body.text();
    for (let i = 0; i < sent.length; i += 2) {
      expect(res.headers[(sent[i] as string).toLowerCase()], sent[i]).toBe(sent[i + 1]);
    }
  });

  it('GET /v1/models/{id} and HEAD are forwarded', async () => {
    shim = await startShim();
    const res = await request(`${shim.proxy.url}/v1/models/claude-opus-4-1`, {
      headers: { authorization: `Bearer ${API_KEY}` },
      dispatcher: shim.client,
    });
    expect(await res.body.json()).toMatchObject({ id: 'claude-opus-4-1' });
    expect(shim.fake.requests[0]?.headers['x-api-key']).toEqual([API_KEY]);
    const head = await request(`${shim.proxy.url}/v1/models`, {
      method: 'HEAD',
      headers: { 'x-api-key': API_KEY },
      dispatcher: shim.client,
    });
    await head.body.text();
    expect(head.statusCode).toBe(200);
    expect(shim.fake.requests[1]?.method).toBe('HEAD');
  });

  it('keeps a keep-alive pool to the upstream: sequential requests share one connection', async () => {
    shim = await startShim();
    const ports: number[] = [];
    shim.fake.respond = (_req, res, raw) => {
      ports.push(raw.socket.remotePort ?? -1);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '2' }).end('{}');
    };
    for (let i = 0; i < 5; i++) {
      const res = await request(`${shim.proxy.url}/v1/models`, {
        headers: { 'x-api-key': API_KEY },
        dispatcher: shim.client,
      });
      await res.body.text();
    }
    expect(new Set(ports).size).toBe(1);
  });
});
