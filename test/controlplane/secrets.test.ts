import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startFakeAnthropic, type FakeAnthropic } from '../../src/demo/fake-anthropic.js';
import { runCli, type ChildShim } from '../helpers/child.js';
import { LITELLM_KEY, OAUTH } from '../helpers/shim.js';
import { createNamespace, startControlPlane, type ControlPlane } from './cluster.js';

// `auth-shim proxy` with AUTH_SHIM_SECRET against a real kube-apiserver, as the process a pod runs,
// authenticated as a ServiceAccount that has exactly the RBAC the docs ask for (get/list/watch on
// that one Secret, by resourceNames). The fake API server in test/credentials covers the byte-level
// watch life cycle; this proves the real one agrees.

const NS = 'agents';
const SECRET = 'claude-creds';
const token = (k: number) => `${OAUTH}-v${k}`;

let cp: ControlPlane;
let fake: FakeAnthropic;
let shim: ChildShim | undefined;
let shimUrls: { url: string; admin: string };

async function serviceAccountKubeconfig(name: string, rules: unknown[]): Promise<string> {
  const docs = [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: NS } },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name, namespace: NS }, rules },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name, namespace: NS },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace: NS }],
    },
  ];
  await cp.kubectlOk(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: docs }));
  // A bound token from the TokenRequest API, as the kubelet would project it into the pod.
  const t = (await cp.kubectlOk(['create', 'token', name, '-n', NS, '--duration=1h'])).trim();
  return cp.writeKubeconfig(name, { token: t }, NS);
}

function secretManifest(oauth: string, litellm = LITELLM_KEY): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: SECRET, namespace: NS },
    stringData: { 'oauth-token': oauth, 'litellm-key': litellm },
  });
}

async function startProxy(kubeconfig: string): Promise<ChildShim> {
  const s = runCli(['proxy'], {
    KUBECONFIG: kubeconfig,
    AUTH_SHIM_UPSTREAM_URL: fake.url,
    AUTH_SHIM_LISTEN: '127.0.0.1:0',
    AUTH_SHIM_ADMIN_LISTEN: '127.0.0.1:0',
    AUTH_SHIM_CREDENTIAL_SOURCE: 'shim-only',
    AUTH_SHIM_SECRET: `${NS}/${SECRET}`,
    AUTH_SHIM_SECRET_OAUTH_TOKEN_KEY: 'oauth-token',
    AUTH_SHIM_SECRET_LITELLM_KEY_KEY: 'litellm-key',
    AUTH_SHIM_LOG_LEVEL: 'debug',
  });
  const exited = s.exited.then(({ code }) => {
    throw new Error(`auth-shim proxy exited ${code}: ${s.stderr.join('')}`);
  });
  await Promise.race([s.listening, exited]);
  return s;
}

async function usedToken(): Promise<string> {
  const res = await request(`${shimUrls.url}/v1/messages`, {
    method: 'POST',
    headers: { 'x-api-key': 'placeholder', 'content-type': 'application/json' },
    body: '{}',
  });
  await res.body.text();
  return res.statusCode === 200
    ? (fake.lastHeader('authorization') ?? '').slice('Bearer '.length)
    : `status ${res.statusCode}`;
}

async function readyz(): Promise<{ status: number; body: string }> {
  const res = await request(`${shimUrls.admin}/readyz`);
  return { status: res.statusCode, body: await res.body.text() };
}

/** Polls until the next request uses `want`; returns how long since `t0` (default: now) that took. */
async function untilToken(want: string, boundMs: number, t0 = Date.now()): Promise<number> {
  let last = '';
  while (Date.now() - t0 < boundMs) {
    last = await usedToken();
    if (last === want) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 20));
  }
  const used = last.startsWith('sk-') ? `…${last.slice(-3)}` : last;
  throw new Error(`the proxy still used ${used} after ${boundMs} ms, not …${want.slice(-3)}`);
}

/**
 * Writes the Secret with kubectl and returns the ms from just before the write until a request
 * through the proxy carries the new token (so kubectl's own time counts against the bound).
 */
async function write(oauth: string, litellm = LITELLM_KEY, boundMs = 2_000): Promise<number> {
  const t0 = Date.now();
  await cp.kubectlOk(['apply', '-f', '-'], secretManifest(oauth, litellm));
  return untilToken(oauth, boundMs, t0);
}

beforeAll(async () => {
  cp = await startControlPlane();
  fake = await startFakeAnthropic();
  await createNamespace(cp, NS);
  const kubeconfig = await serviceAccountKubeconfig('auth-shim', [
    // What docs and README ask for: read and watch this one Secret. list/watch by resourceNames
    // works only because the proxy's watch carries fieldSelector=metadata.name=<name>.
    { apiGroups: [''], resources: ['secrets'], resourceNames: [SECRET], verbs: ['get', 'list', 'watch'] },
  ]);
  shim = await startProxy(kubeconfig);
  shimUrls = await shim.listening;
}, 120_000);

afterAll(async () => {
  if (shim !== undefined && shim.child.exitCode === null) {
    shim.child.kill('SIGTERM');
    await shim.exited;
  }
  await fake?.close();
  await cp?.stop();
}, 60_000);

describe('auth-shim proxy reading a Secret from a real kube-apiserver', () => {
  it('is not ready while the Secret does not exist, and ready within 2 s of its creation', async () => {
    const before = await readyz();
    expect(before.status).toBe(503);
    expect(before.body).toContain(`Secret ${NS}/${SECRET} does not exist`);
    expect(await write(token(1))).toBeLessThan(2_000);
    expect(fake.lastHeader('x-litellm-api-key')).toBe(LITELLM_KEY);
    expect((await readyz()).status).toBe(200);
  });

  it('an update changes the credential used by the next request within 2 s', async () => {
    for (const k of [2, 3, 4]) {
      expect(await write(token(k), `${LITELLM_KEY}-${k}`)).toBeLessThan(2_000);
      expect(fake.lastHeader('x-litellm-api-key')).toBe(`${LITELLM_KEY}-${k}`);
    }
  });

  it('deleting the Secret keeps the last good value (logged); recreating it is picked up within 2 s', async () => {
    const s = shim as ChildShim;
    await cp.kubectlOk(['delete', 'secret', SECRET, '-n', NS, '--wait=true']);
    const t0 = Date.now();
    while (!s.stdout.some((l) => l.includes('does not exist; keeping the last good value'))) {
      if (Date.now() - t0 > 2_000) throw new Error('the DELETED event was not seen within 2 s');
      await new Promise((r) => setTimeout(r, 20));
    }
    // A deleted Secret is an operator's mistake or a re-creation in progress: the proxy keeps the
    // value it has rather than failing every request (src/credentials/store.ts).
    expect(await usedToken()).toBe(token(4));
    expect(await write(token(5))).toBeLessThan(2_000);
  });

  it('survives an API server restart: keeps serving the last good value, then follows updates again', async () => {
    await cp.stopApiserver();
    try {
      // While the API server is down the watch fails and is retried with backoff; the credential
      // it had stays in use (a read failure never clears a good value).
      await new Promise((r) => setTimeout(r, 3_000));
      expect(await usedToken()).toBe(token(5));
      // …and stays ready: an API server restart must not take every agent out of service.
      expect((await readyz()).status).toBe(200);
    } finally {
      await cp.startApiserver();
    }
    // Back-off after several failed attempts is capped at 30 s (the Secret feed's default).
    const recovered = await write(token(6), LITELLM_KEY, 35_000);
    process.stderr.write(`[controlplane] proxy saw the first update after the API server restart in ${recovered} ms\n`);
    // Once the watch is re-established, updates are again within 2 s.
    expect(await write(token(7))).toBeLessThan(2_000);
  }, 90_000);

  it('without RBAC on the Secret it is not ready and says which permission is missing', async () => {
    const kubeconfig = await serviceAccountKubeconfig('no-access', []);
    const other = await startProxy(kubeconfig);
    try {
      const urls = await other.listening;
      const t0 = Date.now();
      let body = '';
      for (;;) {
        const res = await request(`${urls.admin}/readyz`);
        body = await res.body.text();
        if (res.statusCode === 503 && body.includes('403')) break;
        if (Date.now() - t0 > 5_000) throw new Error(`readyz: ${res.statusCode} ${body}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(body).toContain('RBAC');
    } finally {
      other.child.kill('SIGTERM');
      await other.exited;
    }
  });
});
