import Anthropic from '@anthropic-ai/sdk';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { claudeCodeRequest } from '../../src/demo/claude-code-request.js';
import { anthropicError, sseEvents, type FakeAnthropic } from '../../src/demo/fake-anthropic.js';
import { anthropicErrorType } from '../../src/proxy/litellm-envelope.js';
import { runCli } from '../helpers/child.js';
import { OAUTH, startShim, type Shim } from '../helpers/shim.js';
import { litellmChain, type LitellmDb } from './_litellm-db.js';
import { LITELLM_NEW } from './_peers.js';
import { virtualKeyCases } from './_virtual-keys.js';

/**
 * agent → auth-shim → real LiteLLM `/anthropic` → recording fake Anthropic. Only Anthropic is
 * faked. Failure messages name the peer and version: `LiteLLM 1.106.4: …`.
 */
const peer = `LiteLLM ${LITELLM_NEW}`;
const chain = litellmChain(LITELLM_NEW);
let fake: FakeAnthropic;
let litellm: LitellmDb;
let key: string;
let shim: Shim;
beforeAll(() => {
  ({ fake, litellm, shim, key } = chain);
});

function lastUpstream() {
  const r = fake.requests.at(-1);
  if (r === undefined) throw new Error(`${peer}: the fake Anthropic received nothing`);
  return r;
}

describe(`virtual keys through real ${peer} on PostgreSQL`, () => {
  // 1.106.4 answers an exhausted budget with 422.
  virtualKeyCases(chain, 422);
});

describe(`through real ${peer}`, () => {
  it('a Claude-Code-shaped stream: Bearer, no x-api-key, oauth beta, others kept, SSE event for event', async () => {
    const events = sseEvents('claude-sonnet-4-5', ['one', ' two', ' three']);
    fake.respond = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'request-id': 'req_e2e_stream' });
      for (const e of events) res.write(e);
      res.end();
    };
    const { headers, body } = claudeCodeRequest(OAUTH);
    const res = await request(`${shim.proxy.url}/v1/messages?beta=true`, {
      method: 'POST',
      headers,
      body,
      dispatcher: shim.client,
    });
    const text = await res.body.text();
    expect(res.statusCode, `${peer}: status`).toBe(200);
    expect(text, `${peer}: the SSE stream differs from what Anthropic sent`).toBe(events.join(''));

    const got = lastUpstream();
    expect(got.url, `${peer}: path`).toBe('/v1/messages?beta=true');
    expect(got.headers['authorization'], `${peer}: authorization`).toEqual([`Bearer ${OAUTH}`]);
    expect(got.headers['x-api-key'], `${peer}: x-api-key must not reach Anthropic`).toBeUndefined();
    expect(got.headers['anthropic-beta'], `${peer}: anthropic-beta`).toEqual([
      `${headers['anthropic-beta']},oauth-2025-04-20`,
    ]);
    for (const name of [
      'anthropic-version',
      'user-agent',
      'x-app',
      'x-claude-code-session-id',
      'x-stainless-lang',
      'x-stainless-retry-count',
      'anthropic-dangerous-direct-browser-access',
    ]) {
      expect(got.headers[name], `${peer}: header ${name} changed`).toEqual([headers[name]]);
    }
    // Observed, contrary to facts.md §3's table: this LiteLLM does not forward x-litellm-api-key.
    expect(got.headers['x-litellm-api-key'], `${peer}: x-litellm-api-key reached Anthropic`).toBeUndefined();
  });

  it('non-streaming through the real Anthropic SDK', async () => {
    fake.respond = (await import('../../src/demo/fake-anthropic.js')).defaultResponder;
    const client = new Anthropic({ apiKey: OAUTH, baseURL: shim.proxy.url, maxRetries: 0 });
    const msg = await client.messages.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 32,
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(msg.content[0], `${peer}: message`).toMatchObject({ type: 'text', text: 'Hello from the fake Anthropic.' });
    expect(lastUpstream().headers['authorization']).toEqual([`Bearer ${OAUTH}`]);
  });

  it('streaming through the real Anthropic SDK: every event parsed, the final message assembled', async () => {
    fake.respond = (await import('../../src/demo/fake-anthropic.js')).defaultResponder;
    const client = new Anthropic({ apiKey: OAUTH, baseURL: shim.proxy.url, maxRetries: 0 });
    const stream = client.messages.stream({
      model: 'claude-sonnet-4-5',
      max_tokens: 32,
      messages: [{ role: 'user', content: 'hi' }],
    });
    const types: string[] = [];
    for await (const e of stream) types.push(e.type);
    expect(types[0], `${peer}: first event`).toBe('message_start');
    expect(types.at(-1), `${peer}: last event`).toBe('message_stop');
    expect((await stream.finalMessage()).content[0]).toMatchObject({
      type: 'text',
      text: 'Hello from the fake Anthropic.',
    });
  });

  it('auth-shim check: version detected, OAuth possible, key accepted, exit 0', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'check-new-'));
    await writeFile(join(dir, 'key'), key);
    try {
      const child = runCli(['check'], {
        AUTH_SHIM_UPSTREAM_URL: litellm.anthropicUrl,
        AUTH_SHIM_LITELLM_KEY_FILE: join(dir, 'key'),
      });
      const { code } = await child.exited;
      const out = child.stdout.join('\n');
      expect(out, `${peer}: the version from a cheap route, not the slow /openapi.json`).toContain(
        `ok    litellm version  ${LITELLM_NEW} (from GET /public/model_hub/info): can carry OAuth tokens`,
      );
      expect(out).toMatch(/ok {4}litellm key +accepted by LiteLLM/);
      expect(out).toContain('authorization: Bearer sk-ant-oat01-***');
      expect(out, `${peer}: does not forward the virtual key, so no exposure warning`).not.toContain(
        'litellm key exposure',
      );
      expect(out).not.toContain(key);
      expect(code, `${peer}: check output:\n${out}`).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('LiteLLM authenticates the injected key: a wrong one is refused, Anthropic-shaped, to the client', async () => {
    const wrong = await startShim({
      upstream: fake,
      upstreamUrl: litellm.anthropicUrl,
      files: { litellm: 'sk-wrong-virtual-key-0000' },
      env: { AUTH_SHIM_LITELLM_KEY_FILE: '{dir}/litellm' },
    });
    try {
      const before = fake.requests.length;
      const res = await request(`${wrong.proxy.url}/v1/messages`, {
        method: 'POST',
        headers: { 'x-api-key': OAUTH, 'content-type': 'application/json' },
        body: '{"model":"m","max_tokens":1,"messages":[]}',
        dispatcher: wrong.client,
      });
      const body = (await res.body.json()) as { type: string; error: { type: string; message: string } };
      // On its database LiteLLM answers 401 `token_not_found_in_db` (without one it was 400 "No connected db.").
      expect(res.statusCode, `${peer}: status for a wrong LiteLLM key`).toBe(401);
      expect(body.type).toBe('error');
      expect(body.error.type).toBe(anthropicErrorType(res.statusCode));
      expect(body.error.message).toMatch(/^LiteLLM: /);
      expect(res.headers['x-auth-shim-unwrapped']).toBe('litellm-error');
      expect(JSON.stringify(body)).not.toContain('sk-wrong-virtual-key');
      expect(fake.requests.length, `${peer}: a refused request reached Anthropic`).toBe(before);
    } finally {
      await wrong.close();
    }
  });

  it.each([
    [429, 'rate_limit_error'],
    [529, 'overloaded_error'],
  ])('Anthropic %i reaches the client as %s with its status', async (status, type) => {
    fake.respond = (_req, res) => anthropicError(res, status, type, 'from the fake', { 'retry-after': '7' });
    for (const stream of [false, true]) {
      const res = await request(`${shim.proxy.url}/v1/messages`, {
        method: 'POST',
        headers: { 'x-api-key': OAUTH, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'm', max_tokens: 1, stream, messages: [] }),
        dispatcher: shim.client,
      });
      const body = (await res.body.json()) as { type: string; error: { type: string } };
      expect(res.statusCode, `${peer} (stream: ${stream}): status`).toBe(status);
      expect(body, `${peer} (stream: ${stream}): body`).toMatchObject({ type: 'error', error: { type } });
    }
  });
});
