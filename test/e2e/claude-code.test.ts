import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeAnthropic, type FakeAnthropic } from '../../src/demo/fake-anthropic.js';
import { OAUTH, SECRETS, startShim, type Shim } from '../helpers/shim.js';
import { litellmChain } from './_litellm-db.js';
import { CLAUDE_CODE, ensureClaudeCode, LITELLM_NEW } from './_peers.js';

/**
 * The real Claude Code CLI (npm, pinned) in print mode, offline, with a throwaway HOME and its
 * base URL at the shim. Only Anthropic is faked.
 */
const peer = `Claude Code ${CLAUDE_CODE}`;
let claude: string;
let fake: FakeAnthropic;

beforeAll(async () => {
  claude = await ensureClaudeCode(CLAUDE_CODE);
  fake = await startFakeAnthropic();
}, 600_000);

afterAll(async () => {
  await fake?.close();
});

async function runClaude(
  baseUrl: string,
  env: Record<string, string>,
): Promise<{ code: number | null; result: string; stderr: string }> {
  const home = await mkdtemp(join(tmpdir(), 'claude-home-'));
  try {
    const child = spawn(claude, ['-p', 'Say hello', '--output-format', 'json'], {
      env: {
        PATH: process.env['PATH'] ?? '',
        HOME: home,
        ANTHROPIC_BASE_URL: baseUrl,
        // Offline: no telemetry, update checks or other traffic besides the API calls under test.
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
        DISABLE_AUTOUPDATER: '1',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    let result = out;
    try {
      result = String((JSON.parse(out) as { result?: unknown }).result);
    } catch {
      // not JSON: keep the raw output for the failure message
    }
    return { code, result, stderr: err };
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

function messagesRequests(since: number) {
  return fake.requests.slice(since).filter((r) => r.url.startsWith('/v1/messages'));
}

describe(`real ${peer} through the shim`, () => {
  let shim: Shim;
  beforeAll(async () => {
    shim = await startShim({ upstream: fake });
  });
  afterAll(async () => {
    await shim?.close();
  });

  it('ANTHROPIC_API_KEY=sk-ant-oat… (sent as x-api-key): completes; Anthropic gets Bearer + oauth beta', async () => {
    const before = fake.requests.length;
    const r = await runClaude(shim.proxy.url, { ANTHROPIC_API_KEY: OAUTH });
    expect(r.code, `${peer}: exit code; stderr: ${r.stderr.slice(-500)}`).toBe(0);
    expect(r.result, `${peer}: result`).toContain('Hello from the fake Anthropic.');
    const got = messagesRequests(before);
    expect(got.length, `${peer}: no /v1/messages request reached the fake`).toBeGreaterThan(0);
    for (const g of got) {
      expect(g.headers['authorization'], `${peer}: authorization`).toEqual([`Bearer ${OAUTH}`]);
      expect(g.headers['x-api-key'], `${peer}: x-api-key`).toBeUndefined();
      expect(g.headers['anthropic-beta']?.[0]?.split(','), `${peer}: anthropic-beta`).toContain('oauth-2025-04-20');
      expect(g.headers['user-agent']?.[0], `${peer}: user-agent must pass unchanged`).toMatch(/^claude-cli\//);
    }
  });

  it('CLAUDE_CODE_OAUTH_TOKEN (Bearer, sends the oauth beta itself): completes, the beta not duplicated', async () => {
    const before = fake.requests.length;
    const r = await runClaude(shim.proxy.url, { CLAUDE_CODE_OAUTH_TOKEN: OAUTH });
    expect(r.code, `${peer}: exit code; stderr: ${r.stderr.slice(-500)}`).toBe(0);
    const got = messagesRequests(before);
    expect(got.length).toBeGreaterThan(0);
    for (const g of got) {
      expect(g.headers['authorization']).toEqual([`Bearer ${OAUTH}`]);
      const betas = (g.headers['anthropic-beta'] ?? [])
        .join(',')
        .split(',')
        .map((b) => b.trim());
      expect(
        betas.filter((b) => b === 'oauth-2025-04-20'),
        `${peer}: oauth beta count`,
      ).toHaveLength(1);
    }
  });

  it('shim-only with a placeholder key: the agent never holds the token', async () => {
    const holder = await startShim({
      upstream: fake,
      files: { token: OAUTH },
      env: { AUTH_SHIM_CREDENTIAL_SOURCE: 'shim-only', AUTH_SHIM_OAUTH_TOKEN_FILE: '{dir}/token' },
    });
    try {
      const before = fake.requests.length;
      const r = await runClaude(holder.proxy.url, { ANTHROPIC_API_KEY: 'placeholder' });
      expect(r.code, `${peer}: exit code; stderr: ${r.stderr.slice(-500)}`).toBe(0);
      expect(r.result).toContain('Hello from the fake Anthropic.');
      const got = messagesRequests(before);
      expect(got.length).toBeGreaterThan(0);
      for (const g of got) {
        expect(g.headers['authorization']).toEqual([`Bearer ${OAUTH}`]);
        expect(JSON.stringify(g.headers)).not.toContain('placeholder');
      }
      for (const s of SECRETS) expect(holder.logs.join('\n')).not.toContain(s);
    } finally {
      await holder.close();
    }
  });
});

describe(`real ${peer} → shim → real LiteLLM ${LITELLM_NEW} → Anthropic`, () => {
  const chain = litellmChain(LITELLM_NEW, () => fake);

  it('completes with the subscription token arriving as Bearer', async () => {
    const before = fake.requests.length;
    const r = await runClaude(chain.shim.proxy.url, { ANTHROPIC_API_KEY: OAUTH });
    expect(r.code, `${peer} via LiteLLM ${LITELLM_NEW}: exit code; stderr: ${r.stderr.slice(-500)}`).toBe(0);
    expect(r.result).toContain('Hello from the fake Anthropic.');
    const got = messagesRequests(before);
    expect(got.length).toBeGreaterThan(0);
    for (const g of got) {
      expect(g.headers['authorization'], `LiteLLM ${LITELLM_NEW}: authorization`).toEqual([`Bearer ${OAUTH}`]);
      expect(g.headers['x-api-key'], `LiteLLM ${LITELLM_NEW}: x-api-key`).toBeUndefined();
    }
  });
  it("a virtual key over its budget: the CLI stops on the billing_error with LiteLLM's message, no retry", async () => {
    const key = await chain.litellm.generateKey({ max_budget: 1e-7, key_alias: 'e2e-cli-budget' });
    const s = await startShim({
      upstream: fake,
      upstreamUrl: chain.litellm.anthropicUrl,
      files: { litellm: key },
      env: { AUTH_SHIM_LITELLM_KEY_FILE: '{dir}/litellm' },
      logLevel: 'info',
    });
    try {
      // Spend the budget and wait (bounded) until LiteLLM has booked it and refuses the key.
      const body = JSON.stringify({
        model: 'claude-sonnet-4-5',
        max_tokens: 8,
        messages: [{ role: 'user', content: 'hi' }],
      });
      let status = 200;
      for (let i = 0; i < 60 && status === 200; i++) {
        const r = await fetch(`${s.proxy.url}/v1/messages`, {
          method: 'POST',
          headers: { 'x-api-key': OAUTH, 'content-type': 'application/json' },
          body,
        });
        await r.text();
        status = r.status;
        if (status === 200) await new Promise((res) => setTimeout(res, 500));
      }
      expect(status, `LiteLLM ${LITELLM_NEW}: the key was never refused`).toBe(422);
      const linesBefore = s.logs.length;
      const r = await runClaude(s.proxy.url, { ANTHROPIC_API_KEY: OAUTH });
      expect(r.code, `${peer}: must fail; stdout ${r.result.slice(0, 500)}`).not.toBe(0);
      expect(r.result, `${peer}: shows LiteLLM's message`).toContain('Budget has been exceeded');
      const refused = s.logs
        .slice(linesBefore)
        .map((l) => JSON.parse(l) as { event?: string; status?: number })
        .filter((l) => l.event === 'request' && l.status === 422);
      // Without x-should-retry: false it would retry (up to 10 times by default).
      expect(refused.length, `${peer}: requests the CLI sent on a refused key`).toBe(1);
    } finally {
      await s.close();
    }
  });
});
