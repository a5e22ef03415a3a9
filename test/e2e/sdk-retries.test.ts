import Anthropic from '@anthropic-ai/sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { anthropicError, defaultResponder } from '../../src/demo/fake-anthropic.js';
import { OAUTH, startShim, type Shim } from '../helpers/shim.js';

/** The real Anthropic SDK's retry logic must work through the shim exactly as against Anthropic. */
let shim: Shim | undefined;
afterEach(async () => {
  await shim?.close();
  shim = undefined;
});

const params = { model: 'claude-sonnet-4-5', max_tokens: 16, messages: [{ role: 'user' as const, content: 'hi' }] };
const pkg = 'Anthropic SDK';

describe(`${pkg} retries through the shim`, () => {
  it('429 with retry-after: the SDK waits as told, the retries reach the upstream, then succeeds', async () => {
    shim = await startShim();
    const arrivals: number[] = [];
    shim.fake.respond = (req, res, raw) => {
      arrivals.push(performance.now());
      if (arrivals.length <= 2) anthropicError(res, 429, 'rate_limit_error', 'slow down', { 'retry-after': '1' });
      else defaultResponder(req, res, raw);
    };
    const client = new Anthropic({ apiKey: OAUTH, baseURL: shim.proxy.url, maxRetries: 2 });
    const msg = await client.messages.create(params);
    expect(msg.content[0]).toMatchObject({ type: 'text' });
    expect(arrivals, `${pkg}: every attempt must reach the upstream`).toHaveLength(3);
    // retry-after: 1 is honoured (a lower bound on the client's wait, not a latency assertion).
    expect((arrivals[1] as number) - (arrivals[0] as number)).toBeGreaterThanOrEqual(900);
    expect(shim.fake.requests.map((r) => r.headers['x-stainless-retry-count']?.[0])).toEqual(['0', '1', '2']);
  });

  it('529 overloaded every time: 3 attempts upstream; the final error says overloaded_error, status 529', async () => {
    shim = await startShim();
    shim.fake.respond = (_req, res) =>
      anthropicError(res, 529, 'overloaded_error', 'Overloaded', { 'retry-after': '0' });
    const client = new Anthropic({ apiKey: OAUTH, baseURL: shim.proxy.url, maxRetries: 2 });
    const err = (await client.messages.create(params).catch((e: unknown) => e)) as InstanceType<
      typeof Anthropic.APIError
    >;
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect(err.status).toBe(529);
    expect((err.error as { error?: { type?: string } }).error?.type).toBe('overloaded_error');
    expect(shim.fake.requests).toHaveLength(3);
  });

  it('a streamed request is retried on 429 too', async () => {
    shim = await startShim();
    let n = 0;
    shim.fake.respond = (req, res, raw) => {
      if (++n === 1) anthropicError(res, 429, 'rate_limit_error', 'slow down', { 'retry-after': '0' });
      else defaultResponder(req, res, raw);
    };
    const client = new Anthropic({ apiKey: OAUTH, baseURL: shim.proxy.url, maxRetries: 2 });
    const final = await client.messages.stream(params).finalMessage();
    expect(final.content[0]).toMatchObject({ type: 'text', text: 'Hello from the fake Anthropic.' });
    expect(shim.fake.requests).toHaveLength(2);
  });

  it('an error the shim makes with x-should-retry: false is not retried', async () => {
    shim = await startShim({ env: { AUTH_SHIM_ALLOWED_CREDENTIALS: 'api-key' } });
    const client = new Anthropic({ apiKey: OAUTH, baseURL: shim.proxy.url, maxRetries: 2 });
    const err = await client.messages.create(params).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.PermissionDeniedError);
    const rejected = shim.logs.filter((l) => l.includes('"error":"credential_not_allowed"'));
    expect(rejected).toHaveLength(1);
  });

  it('an unreachable upstream (502, x-should-retry: true) is retried by the SDK', async () => {
    shim = await startShim({ upstreamUrl: 'http://127.0.0.1:9' });
    const client = new Anthropic({ apiKey: OAUTH, baseURL: shim.proxy.url, maxRetries: 2 });
    const err = (await client.messages.create(params).catch((e: unknown) => e)) as InstanceType<
      typeof Anthropic.APIError
    >;
    expect(err.status).toBe(502);
    expect(shim.logs.filter((l) => l.includes('"error":"upstream_unreachable"'))).toHaveLength(3);
  });
});
