import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { X509Certificate } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import jsonpatch from 'fast-json-patch';
import { afterEach, describe, expect, it } from 'vitest';
import {
  autoCertSource,
  ensureCaBundle,
  ensureCertificate,
  type AutoCertOptions,
} from '../../src/injector/auto-cert.js';
import { generateCa, issueServingCert, serviceDnsNames } from '../../src/injector/certs.js';
import { startWebhook } from '../../src/injector/webhook-server.js';
import { goldenConfig, httpsCall, quietLogger } from './_helpers.js';

/**
 * A small real Kubernetes API on loopback: the real @kubernetes/client-node talks to it over HTTP.
 * It keeps Secrets and one MutatingWebhookConfiguration with resourceVersions, answers 404/409
 * like the API server, and applies JSON Patches with a real JSON Patch library.
 */
class FakeApi {
  readonly secrets = new Map<string, Record<string, unknown>>();
  readonly calls: string[] = [];
  mwc: Record<string, unknown> = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: 'auth-shim', resourceVersion: '1' },
    webhooks: [
      {
        name: 'namespace.auth-shim.io',
        clientConfig: {
          service: { name: 'auth-shim-webhook', namespace: 'auth-shim-system', path: '/mutate/namespace-enabled' },
        },
        sideEffects: 'None',
        admissionReviewVersions: ['v1'],
      },
      {
        name: 'object.auth-shim.io',
        clientConfig: { service: { name: 'auth-shim-webhook', namespace: 'auth-shim-system', path: '/mutate' } },
        sideEffects: 'None',
        admissionReviewVersions: ['v1'],
      },
    ],
  };
  /** Holds GETs of an absent Secret until this many arrived: replicas that all saw "absent". */
  barrier = 0;
  #waiting: (() => void)[] = [];
  #rv = 10;
  server: Server = createServer((req, res) => void this.#handle(req, res));

  async start(): Promise<KubeConfig> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [
        {
          name: 'fake',
          server: `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`,
          skipTLSVerify: true,
        },
      ],
      users: [{ name: 'sa', token: 'test-token' }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'sa' }],
      currentContext: 'fake',
    });
    return kc;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = chunks.length === 0 ? undefined : JSON.parse(Buffer.concat(chunks).toString('utf8'));
    const path = (req.url ?? '').split('?')[0] ?? '';
    this.calls.push(`${req.method} ${path}`);
    const send = (code: number, obj: unknown): void => {
      res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(obj));
    };
    const status = (code: number, reason: string): void =>
      send(code, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason, code, message: reason });
    if (req.headers.authorization !== 'Bearer test-token') return status(401, 'Unauthorized');

    let m = /^\/api\/v1\/namespaces\/([^/]+)\/secrets(?:\/([^/]+))?$/.exec(path);
    if (m !== null) {
      const key = `${m[1]}/${m[2] ?? body?.metadata?.name}`;
      const existing = this.secrets.get(key);
      if (req.method === 'GET') {
        if (existing !== undefined) return send(200, existing);
        if (this.barrier > 0) {
          await new Promise<void>((r) => {
            this.#waiting.push(r);
            if (this.#waiting.length >= this.barrier) for (const w of this.#waiting.splice(0)) w();
          });
          this.barrier = 0;
        }
        return status(404, 'NotFound');
      }
      if (req.method === 'POST') {
        if (existing !== undefined) return status(409, 'AlreadyExists');
        const stored = { ...body, metadata: { ...body.metadata, resourceVersion: String(++this.#rv) } };
        this.secrets.set(key, stored);
        return send(201, stored);
      }
      if (req.method === 'PUT') {
        if (existing === undefined) return status(404, 'NotFound');
        if ((existing['metadata'] as { resourceVersion: string }).resourceVersion !== body.metadata.resourceVersion)
          return status(409, 'Conflict');
        const stored = { ...body, metadata: { ...body.metadata, resourceVersion: String(++this.#rv) } };
        this.secrets.set(key, stored);
        return send(200, stored);
      }
    }
    m = /^\/apis\/admissionregistration\.k8s\.io\/v1\/mutatingwebhookconfigurations\/auth-shim$/.exec(path);
    if (m !== null) {
      if (req.method === 'GET') return send(200, this.mwc);
      if (req.method === 'PATCH') {
        if (req.headers['content-type'] !== 'application/json-patch+json') return status(415, 'UnsupportedMediaType');
        try {
          const next = jsonpatch.applyPatch(structuredClone(this.mwc), body, true, false).newDocument as {
            metadata: { resourceVersion: string };
          };
          next.metadata.resourceVersion = String(++this.#rv);
          this.mwc = next;
          return send(200, next);
        } catch {
          return status(422, 'Invalid');
        }
      }
    }
    status(404, 'NotFound');
  }

  caBundles(): (string | undefined)[] {
    return (this.mwc['webhooks'] as { clientConfig: { caBundle?: string } }[]).map((w) => w.clientConfig.caBundle);
  }
}

let api: FakeApi | undefined;
afterEach(() => {
  api?.server.close();
  api?.server.closeAllConnections();
  api = undefined;
});

async function setup(): Promise<{ api: FakeApi; opts: AutoCertOptions }> {
  api = new FakeApi();
  const kubeConfig = await api.start();
  return {
    api,
    opts: {
      namespace: 'auth-shim-system',
      secretName: 'auth-shim-webhook-tls',
      webhookConfiguration: 'auth-shim',
      service: 'auth-shim-webhook',
      checkIntervalMs: 60_000,
      log: quietLogger(),
      kubeConfig,
    },
  };
}

const pem = (b64: string | undefined) => Buffer.from(b64 ?? '', 'base64').toString('utf8');

describe('auto TLS mode against a fake Kubernetes API', () => {
  it('creates the Secret when absent, patches caBundle, serves a certificate the API server will trust', async () => {
    const { api, opts } = await setup();
    const s = await startWebhook({
      injector: goldenConfig(),
      listen: { host: '127.0.0.1', port: 0 },
      adminListen: { host: '127.0.0.1', port: 0 },
      maxBodyBytes: 1 << 20,
      requestTimeoutMs: 2000,
      drainTimeoutMs: 100,
      certs: autoCertSource(opts),
      log: quietLogger(),
      defaultMetrics: false,
    });
    try {
      expect(api.calls.slice(0, 2)).toEqual([
        'GET /api/v1/namespaces/auth-shim-system/secrets/auth-shim-webhook-tls',
        'POST /api/v1/namespaces/auth-shim-system/secrets',
      ]);
      const secret = api.secrets.get('auth-shim-system/auth-shim-webhook-tls') as {
        type: string;
        data: Record<string, string>;
      };
      expect(secret.type).toBe('kubernetes.io/tls');
      expect(Object.keys(secret.data).sort()).toEqual(['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
      const bundles = api.caBundles();
      expect(bundles).toEqual([secret.data['ca.crt'], secret.data['ca.crt']]);
      const leaf = new X509Certificate(pem(secret.data['tls.crt']));
      for (const n of serviceDnsNames('auth-shim-webhook', 'auth-shim-system')) expect(leaf.checkHost(n)).toBe(n);
      // The CA from caBundle is all the client trusts, as for the API server.
      const r = await httpsCall(s.url, { ca: pem(bundles[0]), path: '/mutate', body: '{}' });
      expect(r.status).toBe(400);
    } finally {
      await s.shutdown();
    }
  });

  it('three replicas starting at once: one creates, others get 409, read it, use the same certificate', async () => {
    const { api, opts } = await setup();
    api.barrier = 3;
    const results = await Promise.all([ensureCertificate(opts), ensureCertificate(opts), ensureCertificate(opts)]);
    expect(api.calls.filter((c) => c.startsWith('POST'))).toHaveLength(3);
    // Two lost the race (409) and read the winner's Secret: 3 first reads + 2 re-reads.
    expect(api.calls.filter((c) => c.startsWith('GET /api/v1'))).toHaveLength(5);
    expect(new Set(results.map((b) => b.cert)).size).toBe(1);
    const stored = api.secrets.get('auth-shim-system/auth-shim-webhook-tls') as { data: Record<string, string> };
    expect(pem(stored.data['tls.crt'])).toBe(results[0]?.cert);
    await Promise.all(results.map((b) => ensureCaBundle(opts, b.caCert)));
    expect(new Set(api.caBundles())).toEqual(new Set([stored.data['ca.crt']]));
  });

  it('uses a valid stored certificate as is and does not patch a caBundle that is already right', async () => {
    const { api, opts } = await setup();
    const first = await ensureCertificate(opts);
    await ensureCaBundle(opts, first.caCert);
    api.calls.length = 0;
    const again = await ensureCertificate(opts);
    await ensureCaBundle(opts, again.caCert);
    expect(again.cert).toBe(first.cert);
    expect(api.calls).toEqual([
      'GET /api/v1/namespaces/auth-shim-system/secrets/auth-shim-webhook-tls',
      'GET /apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/auth-shim',
    ]);
  });

  it('renews a certificate close to expiry with the same CA, so caBundle stays valid', async () => {
    const { api, opts } = await setup();
    const past = new Date(Date.now() - 340 * 86_400_000);
    const ca = await generateCa(past);
    const old = await issueServingCert(ca, serviceDnsNames('auth-shim-webhook', 'auth-shim-system'), past);
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    api.secrets.set('auth-shim-system/auth-shim-webhook-tls', {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/tls',
      metadata: { name: 'auth-shim-webhook-tls', namespace: 'auth-shim-system', resourceVersion: '5' },
      data: { 'tls.crt': b64(old.cert), 'tls.key': b64(old.key), 'ca.crt': b64(ca.caCert), 'ca.key': b64(ca.caKey) },
    });
    const renewed = await ensureCertificate(opts);
    expect(api.calls).toContain('PUT /api/v1/namespaces/auth-shim-system/secrets/auth-shim-webhook-tls');
    expect(renewed.cert).not.toBe(old.cert);
    expect(renewed.caCert).toBe(ca.caCert);
    expect(new X509Certificate(renewed.cert).verify(new X509Certificate(ca.caCert).publicKey)).toBe(true);
  });

  it('is ready once the caBundle is written, not before', async () => {
    const { api, opts } = await setup();
    const source = autoCertSource(opts);
    expect(source.problem()).toBeDefined();
    await source.start({ onCert: () => undefined, onReload: () => undefined });
    source.stop();
    expect(api.caBundles().every((b) => b !== undefined)).toBe(true);
    expect(source.problem()).toBeUndefined();
  });

  it('is not ready, with the API error as the reason, when the API refuses', async () => {
    const { opts } = await setup();
    const source = autoCertSource({ ...opts, webhookConfiguration: 'missing' });
    let loaded = false;
    await source.start({ onCert: () => (loaded = true), onReload: () => undefined });
    source.stop();
    // The certificate is served even though the caBundle patch failed; the failure is retried.
    expect(loaded).toBe(true);
    // …but not ready until the caBundle is written once: the API server cannot call a webhook it
    // cannot verify, and `helm install --wait` trusts readiness (issue 14).
    expect(source.problem()).toMatch(/MutatingWebhookConfiguration/);
    const broken = autoCertSource({
      ...opts,
      kubeConfig: (() => {
        const kc = new KubeConfig();
        kc.loadFromOptions({
          clusters: [{ name: 'x', server: 'http://127.0.0.1:1' }],
          users: [{ name: 'u' }],
          contexts: [{ name: 'x', cluster: 'x', user: 'u' }],
          currentContext: 'x',
        });
        return kc;
      })(),
    });
    await broken.start({ onCert: () => undefined, onReload: () => undefined });
    broken.stop();
    expect(broken.problem()).toMatch(/reading Secret auth-shim-system\/auth-shim-webhook-tls/);
  });
});
