import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeKubeApi, type FakeKubeApi } from '../../helpers/fake-kube-api.js';
import { writeKubeletSecret } from '../../helpers/kubelet-dir.js';
import { eventually, LITELLM_KEY, logLines, OAUTH, OAUTH_2, startShim, type Shim } from '../../helpers/shim.js';

/**
 * Issue 15, item 7: a Secret version holding one invalid value and one new valid value (an empty
 * token next to a new LiteLLM key) used to pair the old token with the new key — the mix the
 * README promised never happens. A Secret's snapshot is now all or nothing: the whole previous
 * snapshot stays, the log says which value was held and why (never a value), and
 * `auth_shim_credential_reloads_total{result="held"}` counts it. Both feeds: kubelet-style files
 * (`..data` swapped) and the Kubernetes API (every event carries the whole Secret).
 */

const NEW_KEY = 'sk-litellm-virtual-TESTKEY-rotated-fedcba98';
let shim: Shim | undefined;
let api: FakeKubeApi | undefined;
let dir: string | undefined;

afterEach(async () => {
  await shim?.close();
  await api?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  shim = undefined;
  api = undefined;
  dir = undefined;
});

/** What the upstream received: the token and the LiteLLM key of one request. */
async function pair(s: Shim): Promise<[string | undefined, string | undefined]> {
  const res = await request(`${s.proxy.url}/v1/messages`, {
    method: 'POST',
    headers: { 'x-api-key': 'placeholder' },
    body: '{}',
    dispatcher: s.client,
  });
  await res.body.dump();
  expect(res.statusCode).toBe(200);
  return [s.fake.lastHeader('authorization')?.slice('Bearer '.length), s.fake.lastHeader('x-litellm-api-key')];
}

async function heldCount(s: Shim): Promise<number> {
  const text = await (await request(`${s.proxy.adminUrl}/metrics`)).body.text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith('auth_shim_credential_reloads_total{slot="litellm-key",result="held"}'));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

/** The held line names both slots and never a value. */
function expectHeldLogged(s: Shim): void {
  const held = logLines(s).filter((l) => l['event'] === 'credential_held');
  expect(held.length).toBeGreaterThan(0);
  expect(held[0]).toMatchObject({ slot: 'litellm-key', rejected: ['oauth'] });
  expect(String(held[0]?.['msg'])).toContain('keeping the whole previous snapshot');
  for (const secret of [OAUTH, OAUTH_2, LITELLM_KEY, NEW_KEY]) expect(s.logs.join('\n')).not.toContain(secret);
}

describe('regression: a partial rotation never pairs an old token with a new key', () => {
  it('kubelet-style Secret volume: an empty token beside a new LiteLLM key keeps the whole old snapshot', async () => {
    dir = await mkdtemp(join(tmpdir(), 'auth-shim-partial-'));
    await writeKubeletSecret(dir, { token: `${OAUTH}\n`, litellm: LITELLM_KEY });
    shim = await startShim({
      logLevel: 'info',
      env: {
        AUTH_SHIM_CREDENTIAL_SOURCE: 'shim-only',
        AUTH_SHIM_OAUTH_TOKEN_FILE: `${dir}/token`,
        AUTH_SHIM_LITELLM_KEY_FILE: `${dir}/litellm`,
      },
    });
    const s = shim;
    expect(await pair(s)).toEqual([OAUTH, LITELLM_KEY]);
    const generation = s.proxy.credentials.snapshot().generation;

    await writeKubeletSecret(dir, { token: '', litellm: NEW_KEY });
    await s.proxy.credentials.reloadAll();
    expect(await pair(s)).toEqual([OAUTH, LITELLM_KEY]);
    expect(s.proxy.credentials.snapshot().generation).toBe(generation);
    expect(await heldCount(s)).toBeGreaterThan(0);
    expectHeldLogged(s);

    // The next complete version applies both values at once, in one new snapshot.
    await writeKubeletSecret(dir, { token: OAUTH_2, litellm: NEW_KEY });
    await s.proxy.credentials.reloadAll();
    expect(await pair(s)).toEqual([OAUTH_2, NEW_KEY]);
    expect(s.proxy.credentials.snapshot().generation).toBe(generation + 1);
  });

  it('Kubernetes API mode: a MODIFIED event with an invalid token and a new key changes nothing', async () => {
    api = await startFakeKubeApi('agents', 'claude-creds');
    dir = await mkdtemp(join(tmpdir(), 'auth-shim-partial-'));
    await api.writeKubeconfig(join(dir, 'kubeconfig'));
    process.env['KUBECONFIG'] = join(dir, 'kubeconfig');
    api.setSecret({ 'oauth-token': OAUTH, 'litellm-key': LITELLM_KEY });
    shim = await startShim({
      logLevel: 'info',
      env: {
        AUTH_SHIM_CREDENTIAL_SOURCE: 'shim-only',
        AUTH_SHIM_SECRET: 'agents/claude-creds',
        AUTH_SHIM_SECRET_OAUTH_TOKEN_KEY: 'oauth-token',
        AUTH_SHIM_SECRET_LITELLM_KEY_KEY: 'litellm-key',
      },
    });
    const s = shim;
    await eventually(async () => (await request(`${s.proxy.adminUrl}/readyz`)).statusCode === 200);
    expect(await pair(s)).toEqual([OAUTH, LITELLM_KEY]);

    api.setSecret({ 'oauth-token': 'not-a-token', 'litellm-key': NEW_KEY });
    await eventually(async () => (await heldCount(s)) > 0);
    expect(await pair(s)).toEqual([OAUTH, LITELLM_KEY]);
    expectHeldLogged(s);

    api.setSecret({ 'oauth-token': OAUTH_2, 'litellm-key': NEW_KEY });
    await eventually(async () => (await pair(s))[0] === OAUTH_2);
    expect(await pair(s)).toEqual([OAUTH_2, NEW_KEY]);
  });
});
