import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startFakeKubeApi, type FakeKubeApi } from '../helpers/fake-kube-api.js';
import { eventually, LITELLM_KEY, OAUTH, startShim, type Shim } from '../helpers/shim.js';

// The real @kubernetes/client-node against a loopback API server (the control-plane issue runs a
// real kube-apiserver; this covers the watch life cycle where we control every byte).
let api: FakeKubeApi;
let dir: string;
let shim: Shim | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'auth-shim-kube-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
afterEach(async () => {
  await shim?.close();
  shim = undefined;
  await api.close();
});

const token = (k: number) => `${OAUTH}-v${k}`;

async function start(): Promise<Shim> {
  api = await startFakeKubeApi('agents', 'claude-creds');
  await api.writeKubeconfig(join(dir, 'kubeconfig'));
  process.env['KUBECONFIG'] = join(dir, 'kubeconfig');
  return startShim({
    env: {
      AUTH_SHIM_CREDENTIAL_SOURCE: 'shim-only',
      AUTH_SHIM_SECRET: 'agents/claude-creds',
      AUTH_SHIM_SECRET_OAUTH_TOKEN_KEY: 'oauth-token',
      AUTH_SHIM_SECRET_LITELLM_KEY_KEY: 'litellm-key',
    },
  });
}

async function usedToken(s: Shim): Promise<string | undefined> {
  const res = await request(`${s.proxy.url}/v1/messages`, {
    method: 'POST',
    headers: { 'x-api-key': 'placeholder' },
    body: '{}',
    dispatcher: s.client,
  });
  await res.body.text();
  return res.statusCode === 200
    ? s.fake.lastHeader('authorization')?.slice('Bearer '.length)
    : `status ${res.statusCode}`;
}

async function ready(s: Shim): Promise<number> {
  return (await request(`${s.proxy.adminUrl}/readyz`)).statusCode;
}

describe('credentials from a Secret through the Kubernetes API', () => {
  it('reads the Secret, follows MODIFIED events within 2 s, and applies all keys together', async () => {
    shim = await start();
    const s = shim;
    expect(await ready(s)).toBe(503); // the Secret does not exist yet
    api.setSecret({ 'oauth-token': token(1), 'litellm-key': LITELLM_KEY });
    await eventually(async () => (await ready(s)) === 200, 2_000);
    expect(await usedToken(s)).toBe(token(1));
    expect(s.fake.lastHeader('x-litellm-api-key')).toBe(LITELLM_KEY);

    api.setSecret({ 'oauth-token': token(2), 'litellm-key': `${LITELLM_KEY}-2` });
    await eventually(async () => (await usedToken(s)) === token(2), 2_000);
    expect(s.fake.lastHeader('x-litellm-api-key')).toBe(`${LITELLM_KEY}-2`);
    expect(
      api.requests.some(
        (r) => r.includes('fieldSelector=metadata.name%3Dclaude-creds') && r.includes('allowWatchBookmarks=true'),
      ),
    ).toBe(true);
  });

  it('a dropped watch (API server restart) is resumed, and changes made meanwhile are not lost', async () => {
    shim = await start();
    const s = shim;
    api.setSecret({ 'oauth-token': token(1), 'litellm-key': LITELLM_KEY });
    await eventually(async () => (await usedToken(s)) === token(1), 2_000);
    await eventually(() => api.watches.size === 1);
    const watchesBefore = api.requests.filter((r) => r.includes('watch=true')).length;

    api.dropWatches();
    api.setSecret({ 'oauth-token': token(2), 'litellm-key': LITELLM_KEY }); // nobody is watching now
    await eventually(() => api.requests.filter((r) => r.includes('watch=true')).length > watchesBefore, 10_000);
    await eventually(async () => (await usedToken(s)) === token(2), 10_000);
    api.setSecret({ 'oauth-token': token(3), 'litellm-key': LITELLM_KEY });
    await eventually(async () => (await usedToken(s)) === token(3), 2_000);
    expect(s.logs.some((l) => l.includes('secret_watch_failed'))).toBe(true);
  });

  it('410 Gone from the watch: re-read and carry on', async () => {
    shim = await start();
    const s = shim;
    api.setSecret({ 'oauth-token': token(1), 'litellm-key': LITELLM_KEY });
    await eventually(async () => (await usedToken(s)) === token(1), 2_000);
    await eventually(() => api.watches.size === 1);
    const reads = api.requests.filter((r) => r.endsWith('/secrets/claude-creds')).length;
    api.sendEvent({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired' } });
    for (const w of api.watches) w.end(); // the server ends the watch after an ERROR
    await eventually(() => api.requests.filter((r) => r.endsWith('/secrets/claude-creds')).length > reads, 10_000);
    api.setSecret({ 'oauth-token': token(2), 'litellm-key': LITELLM_KEY });
    await eventually(async () => (await usedToken(s)) === token(2), 10_000);
  });

  it('a deleted Secret keeps the last good values; a bad value is rejected; neither is logged', async () => {
    shim = await start();
    const s = shim;
    api.setSecret({ 'oauth-token': token(1), 'litellm-key': LITELLM_KEY });
    await eventually(async () => (await usedToken(s)) === token(1), 2_000);
    api.setSecret(undefined);
    await eventually(() => s.logs.some((l) => l.includes('does not exist; keeping the last good value')), 2_000);
    expect(await usedToken(s)).toBe(token(1));
    api.setSecret({ 'oauth-token': 'sk-ant-api03-wrong-slot-value', 'litellm-key': LITELLM_KEY });
    await eventually(() => s.logs.some((l) => l.includes('holds an Anthropic API key')), 2_000);
    expect(await usedToken(s)).toBe(token(1));
    const all = s.logs.join('\n');
    expect(all).not.toContain(token(1));
    expect(all).not.toContain('sk-ant-api03-wrong-slot-value');
    expect(all).not.toContain(LITELLM_KEY);
  });

  it('a forbidden read says what RBAC is missing, and recovers when it is granted', async () => {
    api = await startFakeKubeApi('agents', 'claude-creds');
    api.failGets = 403;
    await api.writeKubeconfig(join(dir, 'kubeconfig'));
    process.env['KUBECONFIG'] = join(dir, 'kubeconfig');
    shim = await startShim({
      env: {
        AUTH_SHIM_CREDENTIAL_SOURCE: 'shim-only',
        AUTH_SHIM_SECRET: 'agents/claude-creds',
        AUTH_SHIM_SECRET_OAUTH_TOKEN_KEY: 'oauth-token',
      },
    });
    const s = shim;
    const body = await (await request(`${s.proxy.adminUrl}/readyz`)).body.text();
    expect(body).toContain('RBAC: get, list and watch');
    api.failGets = undefined;
    api.setSecret({ 'oauth-token': token(1) });
    await eventually(async () => (await ready(s)) === 200, 5_000);
  });
});
