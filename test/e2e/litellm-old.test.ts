import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import { anthropicError, defaultResponder } from '../../src/demo/fake-anthropic.js';
import { runCli } from '../helpers/child.js';
import { OAUTH } from '../helpers/shim.js';
import { litellmChain, type Chain } from './_litellm-db.js';
import { LITELLM_NONE_KEY, LITELLM_OLD } from './_peers.js';
import { virtualKeyCases } from './_virtual-keys.js';

/**
 * Older LiteLLM releases (facts.md §3, corrected by what these tests observe): what goes wrong
 * there, what the shim repairs (the error envelope) and what it cannot (`x-api-key: None`), and
 * that `auth-shim check` says so plainly.
 */
type Env = Chain;
const setup = (version: string): Env => litellmChain(version);

async function post(env: Env, stream: boolean) {
  const res = await request(`${env.shim.proxy.url}/v1/messages`, {
    method: 'POST',
    headers: { 'x-api-key': OAUTH, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({
      model: 'claude-sonnet-4-5',
      max_tokens: 8,
      stream,
      messages: [{ role: 'user', content: 'hi' }],
    }),
    dispatcher: env.shim.client,
  });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

async function check(env: Env, json: boolean) {
  const dir = await mkdtemp(join(tmpdir(), 'check-'));
  await writeFile(join(dir, 'key'), env.key);
  try {
    const child = runCli(json ? ['check', '--json'] : ['check'], {
      AUTH_SHIM_UPSTREAM_URL: env.litellm.anthropicUrl,
      AUTH_SHIM_LITELLM_KEY_FILE: join(dir, 'key'),
    });
    const { code } = await child.exited;
    return { code, out: child.stdout.join('\n') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe(`real LiteLLM ${LITELLM_NONE_KEY}`, () => {
  const peer = `LiteLLM ${LITELLM_NONE_KEY}`;
  const env = setup(LITELLM_NONE_KEY);

  it('injects a literal `x-api-key: None` next to the Bearer token — why OAuth cannot work there', async () => {
    env.fake.respond = defaultResponder;
    await post(env, false);
    const got = env.fake.requests.at(-1);
    expect(got?.headers['authorization'], `${peer}: authorization`).toEqual([`Bearer ${OAUTH}`]);
    // Anthropic decides on x-api-key when both arrive, so this request would be refused upstream.
    expect(got?.headers['x-api-key'], `${peer}: x-api-key`).toEqual(['None']);
  });

  it('auth-shim check says plainly that /anthropic cannot carry an OAuth token', async () => {
    const { code, out } = await check(env, false);
    expect(code, `${peer}: check must fail`).toBe(1);
    expect(out).toMatch(
      new RegExp(
        `FAIL  litellm version +${LITELLM_NONE_KEY.replaceAll('.', '\\.')} ` +
          '\\(from GET /health/readiness\\): cannot carry OAuth tokens',
      ),
    );
    expect(out).toContain('/anthropic cannot carry a subscription OAuth token before LiteLLM 1.82.5');
    expect(out).not.toContain(env.key);
    const json = JSON.parse((await check(env, true)).out) as { ok: boolean; litellmVersion: string };
    expect(json).toMatchObject({ ok: false, litellmVersion: LITELLM_NONE_KEY });
  });
});

describe(`real LiteLLM ${LITELLM_OLD}`, () => {
  const peer = `LiteLLM ${LITELLM_OLD}`;
  const env = setup(LITELLM_OLD);

  // 1.82.6 answers an exhausted budget with 400.
  virtualKeyCases(env, 400);

  it('passes the Bearer token without `x-api-key: None`, but forwards x-litellm-api-key to Anthropic', async () => {
    env.fake.respond = defaultResponder;
    await post(env, false);
    const got = env.fake.requests.at(-1);
    expect(got?.headers['authorization'], `${peer}: authorization`).toEqual([`Bearer ${OAUTH}`]);
    expect(got?.headers['x-api-key'], `${peer}: x-api-key`).toBeUndefined();
    // Why each agent gets its own low-privilege virtual key: this LiteLLM hands it to Anthropic.
    expect(got?.headers['x-litellm-api-key'], `${peer}: x-litellm-api-key`).toEqual([env.key]);
  });

  it.each([false, true])(
    'wraps Anthropic errors in its envelope (stream: %s); the shim returns the inner error, status, request-id',
    async (stream) => {
      let sentBody = '';
      env.fake.respond = (_req, res) => {
        const id = 'req_011OldLitellm';
        sentBody = JSON.stringify({
          type: 'error',
          error: { type: 'rate_limit_error', message: 'Number of requests has exceeded your rate limit' },
          request_id: id,
        });
        res.writeHead(429, { 'content-type': 'application/json', 'request-id': id, 'retry-after': '30' }).end(sentBody);
      };
      const r = await post(env, stream);
      expect(r.status, `${peer} (stream: ${stream}): status`).toBe(429);
      expect(
        JSON.parse(r.text),
        `${peer} (stream: ${stream}): the client must get Anthropic's error, not LiteLLM's envelope`,
      ).toEqual(JSON.parse(sentBody));
      expect(r.headers['request-id'], `${peer}: request-id restored from the body`).toBe('req_011OldLitellm');
      expect(r.headers['x-auth-shim-unwrapped']).toBe('litellm-error-envelope');
    },
  );

  it('an overloaded_error survives the round trip with its type (Claude Code retries it 3 times, not 11)', async () => {
    env.fake.respond = (_req, res) => anthropicError(res, 529, 'overloaded_error', 'Overloaded');
    const r = await post(env, true);
    expect(r.status).toBe(529);
    expect(JSON.parse(r.text)).toMatchObject({
      type: 'error',
      error: { type: 'overloaded_error', message: 'Overloaded' },
    });
  });

  it('auth-shim check: version detected, OAuth possible, key accepted', async () => {
    const { code, out } = await check(env, false);
    expect(out).toMatch(
      new RegExp(
        `ok {4}litellm version +${LITELLM_OLD.replaceAll('.', '\\.')} ` +
          '\\(from GET /health/readiness\\): can carry OAuth tokens',
      ),
    );
    // Bisected (docs/PEERS.md): releases before 1.103.0 send the virtual key on to Anthropic.
    expect(out).toMatch(
      new RegExp(
        `WARN  litellm key exposure +LiteLLM ${LITELLM_OLD.replaceAll('.', '\\.')} ` +
          'forwards x-litellm-api-key to Anthropic',
      ),
    );
    expect(out).toMatch(/ok {4}litellm key +accepted by LiteLLM/);
    expect(code, `${peer}: check`).toBe(0);
  });
});
