import Anthropic from '@anthropic-ai/sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { anthropicError } from '../../src/demo/fake-anthropic.js';
import { API_KEY, LITELLM_KEY, OAUTH, startShim, type Shim } from '../helpers/shim.js';

let shim: Shim | undefined;
afterEach(async () => {
  await shim?.close();
  shim = undefined;
});

function sdk(s: Shim, apiKey: string): Anthropic {
  return new Anthropic({ apiKey, baseURL: s.proxy.url, maxRetries: 0 });
}

const params = { model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user' as const, content: 'hi' }] };

describe('the real Anthropic TypeScript SDK (1.x) through the shim', () => {
  it('non-streaming with an OAuth token: arrives as Bearer + oauth beta, the message parses', async () => {
    shim = await startShim({ files: { k: LITELLM_KEY }, env: { AUTH_SHIM_LITELLM_KEY_FILE: '{dir}/k' } });
    const msg = await sdk(shim, OAUTH).messages.create(params);
    expect(msg.content[0]).toMatchObject({ type: 'text', text: 'Hello from the fake Anthropic.' });
    const h = shim.fake.requests[0]?.headers ?? {};
    expect(h['authorization']).toEqual([`Bearer ${OAUTH}`]);
    expect(h['x-api-key']).toBeUndefined();
    expect(h['anthropic-beta']?.[0]).toContain('oauth-2025-04-20');
    expect(h['x-litellm-api-key']).toEqual([LITELLM_KEY]);
  });

  it('streaming with an API key (SDK 1.x sends it as Bearer): arrives as x-api-key, every event parsed', async () => {
    shim = await startShim();
    const stream = sdk(shim, API_KEY).messages.stream(params);
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    const final = await stream.finalMessage();
    expect(types[0]).toBe('message_start');
    expect(types.at(-1)).toBe('message_stop');
    expect(final.content[0]).toMatchObject({ type: 'text', text: 'Hello from the fake Anthropic.' });
    const h = shim.fake.requests[0]?.headers ?? {};
    expect(h['x-api-key']).toEqual([API_KEY]);
    expect(h['authorization']).toBeUndefined();
  });

  it('a shim error reaches the SDK as the right error class with its message', async () => {
    shim = await startShim({ env: { AUTH_SHIM_ALLOWED_CREDENTIALS: 'oauth' } });
    const err = await sdk(shim, API_KEY)
      .messages.create(params)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect((err as Error).message).toContain('AUTH_SHIM_ALLOWED_CREDENTIALS');
  });

  it('an upstream rate-limit error keeps its type and request id for the SDK', async () => {
    shim = await startShim();
    shim.fake.respond = (_req, res) =>
      anthropicError(res, 429, 'rate_limit_error', 'slow down', { 'retry-after': '1' });
    const err = await sdk(shim, OAUTH)
      .messages.create(params)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    expect((err as InstanceType<typeof Anthropic.RateLimitError>).requestID).toMatch(/^req_/);
  });

  it('a mid-stream event: error from the shim surfaces as an SDK error, not a silent truncation', async () => {
    shim = await startShim({ env: { AUTH_SHIM_UPSTREAM_BODY_TIMEOUT_MS: '200' } });
    shim.fake.respond = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(
        'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message",' +
          '"role":"assistant","model":"m","content":[],"stop_reason":null,"stop_sequence":null,' +
          '"usage":{"input_tokens":1,"output_tokens":1}}}\n\n',
      );
    };
    const stream = sdk(shim, OAUTH).messages.stream(params);
    const err = await stream.finalMessage().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect(String((err as Error).message)).toContain('auth-shim');
  });
});
