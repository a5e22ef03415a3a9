import Anthropic from '@anthropic-ai/sdk';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { request } from 'undici';
import { defaultResponder } from '../../src/demo/fake-anthropic.js';
import { writeKubeletSecret } from '../helpers/kubelet-dir.js';
import { eventually, logLines, OAUTH, startShim, type Shim } from '../helpers/shim.js';
import type { Chain } from './_litellm-db.js';

/**
 * What a LiteLLM virtual key's life looks like through the shim (issue 18), registered for each
 * real LiteLLM version on PostgreSQL: over budget, unknown, revoked, rotated under traffic.
 * `budgetStatus` is the status that LiteLLM release answers for `budget_exceeded`.
 */
export function virtualKeyCases(chain: Chain, budgetStatus: number): void {
  const peer = (): string => `LiteLLM ${chain.litellm.version}`;
  const body = JSON.stringify({
    model: 'claude-sonnet-4-5',
    max_tokens: 8,
    messages: [{ role: 'user', content: 'hi' }],
  });
  const send = async (
    s: Shim,
  ): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> => {
    const res = await request(`${s.proxy.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': OAUTH, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body,
      dispatcher: s.client,
    });
    return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
  };
  const withKey = async <T>(key: string, fn: (s: Shim) => Promise<T>): Promise<T> => {
    const s = await startShim({
      upstream: chain.fake,
      upstreamUrl: chain.litellm.anthropicUrl,
      files: { litellm: key },
      env: { AUTH_SHIM_LITELLM_KEY_FILE: '{dir}/litellm' },
    });
    try {
      return await fn(s);
    } finally {
      await s.close();
    }
  };
  const expectStops = (
    r: { status: number; headers: Record<string, string | string[] | undefined>; text: string },
    status: number,
    type: string,
    message: RegExp,
  ): void => {
    expect(r.status, `${peer()}: status; body ${r.text}`).toBe(status);
    expect(JSON.parse(r.text), `${peer()}: body`).toMatchObject({
      type: 'error',
      error: { type, message: expect.stringMatching(message) },
    });
    expect(r.headers['x-should-retry'], `${peer()}: a client must not retry this`).toBe('false');
    expect(r.text, `${peer()}: a key fragment reached the client`).not.toMatch(/sk-(?!\*\*\*)[A-Za-z0-9.]/);
  };

  it("a key over its budget: billing_error with LiteLLM's message, x-should-retry: false; the SDK stops", async () => {
    chain.fake.respond = defaultResponder;
    const key = await chain.litellm.generateKey({ max_budget: 1e-7, key_alias: 'e2e-tiny-budget' });
    await withKey(key, async (s) => {
      expect((await send(s)).status, `${peer()}: the first request is within budget`).toBe(200);
      // LiteLLM books spend asynchronously: poll (bounded) until the key is refused.
      let refused: Awaited<ReturnType<typeof send>> | undefined;
      for (let i = 0; i < 60 && refused === undefined; i++) {
        const r = await send(s);
        if (r.status !== 200) refused = r;
        else await new Promise((res) => setTimeout(res, 500));
      }
      if (refused === undefined) throw new Error(`${peer()}: the key was never refused over its budget`);
      expectStops(refused, budgetStatus, 'billing_error', /^LiteLLM: Budget has been exceeded!/);

      const upstreamBefore = chain.fake.requests.length;
      const client = new Anthropic({ apiKey: OAUTH, baseURL: s.proxy.url, maxRetries: 3 });
      const err = await client.messages
        .create({ model: 'claude-sonnet-4-5', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err, `${peer()}: SDK error`).toBeInstanceOf(Anthropic.APIError);
      expect((err as InstanceType<typeof Anthropic.APIError>).status).toBe(budgetStatus);
      expect(
        ((err as InstanceType<typeof Anthropic.APIError>).error as { error?: { type?: string } }).error?.type,
      ).toBe('billing_error');
      expect(chain.fake.requests.length, `${peer()}: a refused request reached Anthropic`).toBe(upstreamBefore);
    });
  });

  it("unknown, revoked keys: authentication_error, LiteLLM's message, x-should-retry: false; none sent", async () => {
    chain.fake.respond = defaultResponder;
    const before = chain.fake.requests.length;
    await withKey('sk-e2e-never-issued-0000000000', async (s) => {
      expectStops(await send(s), 401, 'authentication_error', /^LiteLLM: Authentication Error/);
    });
    expect(chain.fake.requests.length, `${peer()}: an unknown key's request reached Anthropic`).toBe(before);

    const key = await chain.litellm.generateKey({ key_alias: 'e2e-revoked' });
    await withKey(key, async (s) => {
      expect((await send(s)).status, `${peer()}: a fresh key works`).toBe(200);
      await chain.litellm.deleteKey(key);
      const upstream = chain.fake.requests.length;
      expectStops(await send(s), 401, 'authentication_error', /^LiteLLM: Authentication Error/);
      expect(chain.fake.requests.length, `${peer()}: a revoked key's request reached Anthropic`).toBe(upstream);
    });
  });

  it('a streamed request: LiteLLM books spend 0 (upstream not api.anthropic.com); the shim logs usage', async () => {
    chain.fake.respond = defaultResponder;
    const key = await chain.litellm.generateKey({ key_alias: 'e2e-stream-spend' });
    await withKey(key, async (s) => {
      for (const stream of [false, true]) {
        const res = await request(`${s.proxy.url}/v1/messages`, {
          method: 'POST',
          headers: { 'x-api-key': OAUTH, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
          body: JSON.stringify({
            model: 'claude-sonnet-4-5',
            max_tokens: 8,
            stream,
            messages: [{ role: 'user', content: 'hi' }],
          }),
          dispatcher: s.client,
        });
        await res.body.text();
        expect(res.statusCode).toBe(200);
      }
      const spendLogs = async (): Promise<string[]> =>
        (
          await chain.litellm.postgres.psql([
            '-At',
            '-c',
            `SELECT l.spend || '/' || l.total_tokens FROM "LiteLLM_SpendLogs" l ` +
              `JOIN "LiteLLM_VerificationToken" t ON l.api_key = t.token ` +
              `WHERE t.key_alias = 'e2e-stream-spend' ORDER BY l."startTime"`,
          ])
        )
          .split('\n')
          .filter((x) => x !== '');
      await eventually(async () => (await spendLogs()).length === 2, 60_000);
      const [plain, streamed] = await spendLogs();
      expect(plain, `${peer()}: the non-streamed request is charged`).not.toMatch(/^0\/0$/);
      // LiteLLM reads a pass-through stream's usage only when the upstream host is api.anthropic.com
      // (get_endpoint_type); any other ANTHROPIC_API_BASE books it at 0 (docs/PEERS.md, PR #40137).
      expect(streamed, `${peer()}: LiteLLM's book for the streamed request`).toBe('0/0');
      const lines = logLines(s).filter((l) => l['event'] === 'request');
      expect(
        lines.map((l) => [l['input_tokens'], l['output_tokens']]),
        `${peer()}: the shim's usage per request`,
      ).toEqual([
        [12, 7],
        [12, 7],
      ]);
    });
  });

  it('a key rotated in its Secret (created, swapped kubelet-style, old deleted) under load: none failed', async () => {
    chain.fake.respond = defaultResponder;
    const secretDir = await mkdtemp(join(tmpdir(), 'e2e-litellm-secret-'));
    const oldKey = await chain.litellm.generateKey({ key_alias: 'e2e-rotate-old' });
    await writeKubeletSecret(secretDir, { litellm: oldKey });
    const s = await startShim({
      upstream: chain.fake,
      upstreamUrl: chain.litellm.anthropicUrl,
      env: { AUTH_SHIM_LITELLM_KEY_FILE: `${secretDir}/litellm` },
    });
    let stop = false;
    let sent = 0;
    const failures: string[] = [];
    const loop = (async () => {
      while (!stop) {
        const r = await send(s);
        sent++;
        if (r.status !== 200) failures.push(`${r.status} ${r.text.slice(0, 200)}`);
      }
    })();
    try {
      await eventually(() => sent >= 3, 60_000);
      const newKey = await chain.litellm.generateKey({ key_alias: 'e2e-rotate-new' });
      await writeKubeletSecret(secretDir, { litellm: newKey });
      await eventually(() => s.proxy.credentials.snapshot().litellmKey === newKey, 10_000);
      const atSwitch = sent;
      await chain.litellm.deleteKey(oldKey);
      await eventually(() => sent >= atSwitch + 5, 60_000);
    } finally {
      stop = true;
      await loop;
      await s.close();
      await rm(secretDir, { recursive: true, force: true });
    }
    expect(failures, `${peer()}: failed requests during rotation (${sent} sent)`).toEqual([]);
  });
}
