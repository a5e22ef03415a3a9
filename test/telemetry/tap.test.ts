import { gzipSync } from 'node:zlib';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { json, message, requestId, sseEvents } from '../../src/demo/fake-anthropic.js';
import { eventually, LITELLM_KEY, logLines, OAUTH, startShim, type Shim } from '../helpers/shim.js';

let shim: Shim;
afterEach(() => shim?.close());

async function start(): Promise<Shim> {
  shim = await startShim({
    files: { litellm: `${LITELLM_KEY}\n` },
    env: { AUTH_SHIM_LITELLM_KEY_FILE: '{dir}/litellm' },
  });
  return shim;
}

async function post(
  s: Shim,
  body: unknown,
): Promise<{ status: number; body: Buffer; headers: Record<string, string | string[] | undefined> }> {
  const res = await request(`${s.proxy.url}/v1/messages`, {
    method: 'POST',
    dispatcher: s.client,
    headers: { 'x-api-key': OAUTH, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify(body),
  });
  return { status: res.statusCode, body: Buffer.from(await res.body.arrayBuffer()), headers: res.headers };
}

async function metrics(s: Shim): Promise<string> {
  const res = await request(`${s.proxy.adminUrl}/metrics`, { dispatcher: s.client });
  return res.body.text();
}

/** Writes `text` in the given pieces, each flushed as its own chunk. */
async function writeInPieces(res: import('node:http').ServerResponse, text: Buffer, sizes: number[]): Promise<void> {
  let pos = 0;
  let i = 0;
  while (pos < text.length) {
    const n = sizes[i++ % sizes.length] as number;
    res.write(text.subarray(pos, pos + n));
    pos += n;
    await new Promise((r) => setImmediate(r));
  }
  res.end();
}

describe('token usage tap (through a real shim)', () => {
  it('counts a JSON message by type and model', async () => {
    const s = await start();
    const r = await post(s, { model: 'claude-haiku-4-5', max_tokens: 10, messages: [] });
    expect(r.status).toBe(200);
    const text = await metrics(s);
    expect(text).toContain('auth_shim_tokens_total{type="input",model="claude-haiku-4-5"} 12');
    expect(text).toContain('auth_shim_tokens_total{type="output",model="claude-haiku-4-5"} 7');
    expect(text).toContain('auth_shim_tokens_total{type="cache_read",model="claude-haiku-4-5"} 3');
    expect(text).toContain('auth_shim_tokens_total{type="cache_creation",model="claude-haiku-4-5"} 2');
  });

  it('counts an SSE stream cut at odd places with CRLF line ends, and passes every byte unchanged', async () => {
    const s = await start();
    const stream = Buffer.from(
      sseEvents('claude-opus-4-1', ['Hi', ' there', '\r\n']).join('').replaceAll('\n', '\r\n'),
    );
    s.fake.respond = async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'request-id': requestId() });
      res.flushHeaders();
      await writeInPieces(res, stream, [1, 7, 13, 250, 2]);
    };
    const r = await post(s, { model: 'claude-opus-4-1', stream: true, max_tokens: 10, messages: [] });
    expect(r.status).toBe(200);
    expect(r.body.equals(stream)).toBe(true);
    const text = await metrics(s);
    expect(text).toContain('auth_shim_tokens_total{type="input",model="claude-opus-4-1"} 12');
    expect(text).toContain('auth_shim_tokens_total{type="output",model="claude-opus-4-1"} 7');
  });

  it("puts each request's usage on its log line, streamed or not: what LiteLLM books at 0 (issue 18)", async () => {
    const s = await start();
    await post(s, { model: 'claude-haiku-4-5', max_tokens: 10, messages: [] });
    s.fake.respond = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'request-id': requestId() });
      res.end(sseEvents('claude-opus-4-1', ['Hi']).join(''));
    };
    await post(s, { model: 'claude-opus-4-1', stream: true, max_tokens: 10, messages: [] });
    const requests = (): Array<Record<string, unknown>> => logLines(s).filter((l) => l['event'] === 'request');
    await eventually(() => requests().length === 2);
    const usage = requests().map((l) => [
      l['model'],
      l['input_tokens'],
      l['output_tokens'],
      l['cache_read_tokens'],
      l['cache_creation_tokens'],
    ]);
    expect(usage).toEqual([
      ['claude-haiku-4-5', 12, 7, 3, 2],
      ['claude-opus-4-1', 12, 7, 3, 2],
    ]);
  });

  it('a response without usage leaves the usage fields off its log line', async () => {
    const s = await start();
    s.fake.respond = (_req, res) => json(res, 200, { ok: true });
    await post(s, { model: 'm', max_tokens: 1, messages: [] });
    await eventually(() => logLines(s).some((l) => l['event'] === 'request'));
    const line = logLines(s).find((l) => l['event'] === 'request') ?? {};
    for (const k of ['model', 'input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_creation_tokens'])
      expect(line[k], k).toBeUndefined();
  });

  it('counts nothing for an error response, but records its rate-limit headers', async () => {
    const s = await start();
    s.fake.respond = (_req, res) => {
      json(
        res,
        429,
        { type: 'error', error: { type: 'rate_limit_error', message: 'limit' }, usage: { input_tokens: 99 } },
        {
          'anthropic-ratelimit-unified-status': 'rejected',
          'anthropic-ratelimit-unified-reset': '1785736800',
          'anthropic-ratelimit-unified-representative-claim': 'five_hour',
          'anthropic-ratelimit-unified-5h-utilization': '1.0',
          'retry-after': '3600',
        },
      );
    };
    const r = await post(s, { model: 'x', max_tokens: 1, messages: [] });
    expect(r.status).toBe(429);
    const text = await metrics(s);
    expect(text).not.toMatch(/^auth_shim_tokens_total\{/m);
    expect(text).toContain('auth_shim_ratelimit_unified_status{status="rejected"} 1');
    expect(text).toContain('auth_shim_ratelimit_unified_status{status="allowed"} 0');
    expect(text).toContain('auth_shim_ratelimit_unified_reset_timestamp_seconds 1785736800');
    expect(text).toContain('auth_shim_ratelimit_unified_representative_claim{claim="five_hour"} 1');
    expect(text).toContain('auth_shim_ratelimit_unified_utilization_ratio{window="5h"} 1');
  });

  it('records LiteLLM llm_provider- copies of the classic headers', async () => {
    const s = await start();
    s.fake.respond = (_req, res) => {
      json(res, 200, message('claude-sonnet-4-5', 'ok'), {
        'llm_provider-anthropic-ratelimit-input-tokens-limit': '400000',
        'llm_provider-anthropic-ratelimit-input-tokens-remaining': '399000',
        'llm_provider-anthropic-ratelimit-input-tokens-reset': '2026-01-01T00:01:00Z',
      });
    };
    await post(s, { model: 'claude-sonnet-4-5', max_tokens: 1, messages: [] });
    const text = await metrics(s);
    expect(text).toContain('auth_shim_ratelimit_limit{resource="input_tokens"} 400000');
    expect(text).toContain('auth_shim_ratelimit_remaining{resource="input_tokens"} 399000');
    expect(text).toContain(
      'auth_shim_ratelimit_reset_timestamp_seconds{resource="input_tokens"} ' +
        `${Date.parse('2026-01-01T00:01:00Z') / 1000}`,
    );
  });

  it('skips a compressed body, and passes it unchanged', async () => {
    const s = await start();
    const gz = gzipSync(JSON.stringify(message('claude-sonnet-4-5', 'zip')));
    s.fake.respond = (_req, res) => {
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-encoding': 'gzip',
        'content-length': gz.length,
      });
      res.end(gz);
    };
    const r = await post(s, { model: 'claude-sonnet-4-5', max_tokens: 1, messages: [] });
    expect(r.body.equals(gz)).toBe(true);
    const text = await metrics(s);
    expect(text).toContain('auth_shim_token_usage_skipped_total{reason="encoded"} 1');
    expect(text).not.toMatch(/^auth_shim_tokens_total\{/m);
  });

  it('caps the model label set: a client cycling model names cannot grow the series', async () => {
    const s = await start();
    s.fake.respond = (req, res) => {
      const model = (JSON.parse(req.body.toString()) as { model: string }).model;
      json(res, 200, message(model, 'echo'));
    };
    for (let i = 0; i < 25; i++) await post(s, { model: `m${i}`, max_tokens: 1, messages: [] });
    const text = await metrics(s);
    const models = new Set(
      [...text.matchAll(/^auth_shim_tokens_total\{type="input",model="([^"]+)"\}/gm)].map((m) => m[1]),
    );
    expect(models.size).toBe(21);
    expect(text).toContain('auth_shim_tokens_total{type="input",model="other"} 60');
  });
});
