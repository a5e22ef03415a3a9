import { mkdtemp, readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileCertSource } from '../../src/injector/tls.js';
import { startWebhook, type RunningWebhook } from '../../src/injector/webhook-server.js';
import { goldenConfig, httpsCall, makeBundle, quietLogger, removeDir, writeKubeletSecret } from './_helpers.js';

function get(url: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    httpRequest(new URL(path, url), { agent: false }, (res) => {
      let body = '';
      res
        .setEncoding('utf8')
        .on('data', (c: string) => (body += c))
        .on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

const MAX = 64 * 1024;
let dir: string;
let server: RunningWebhook;
let ca: string;
const review = await readFile(join(import.meta.dirname, 'golden', 'annotated-native.in.json'), 'utf8');

beforeAll(async () => {
  const bundle = await makeBundle();
  ca = bundle.caCert;
  dir = await mkdtemp(join(tmpdir(), 'auth-shim-webhook-'));
  await writeKubeletSecret(dir, { 'tls.crt': bundle.cert, 'tls.key': bundle.key });
  server = await startWebhook({
    injector: goldenConfig(),
    listen: { host: '127.0.0.1', port: 0 },
    adminListen: { host: '127.0.0.1', port: 0 },
    maxBodyBytes: MAX,
    requestTimeoutMs: 2000,
    drainTimeoutMs: 1000,
    certs: fileCertSource({
      certFile: join(dir, 'tls.crt'),
      keyFile: join(dir, 'tls.key'),
      intervalMs: 60_000,
      debounceMs: 20,
    }),
    log: quietLogger(),
    defaultMetrics: false,
  });
});

afterAll(async () => {
  await server?.shutdown();
  await removeDir(dir);
});

describe('auth-shim webhook over real TLS', () => {
  it('answers a review for a client that trusts only the generated CA', async () => {
    const r = await httpsCall(server.url, { ca, path: '/mutate', body: review });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json');
    expect(JSON.parse(r.body).response).toMatchObject({ allowed: true, patchType: 'JSONPatch' });
  });

  it('is refused by a client that does not trust the certificate', async () => {
    const other = await makeBundle();
    await expect(httpsCall(server.url, { ca: other.caCert, path: '/mutate', body: review })).rejects.toThrow(
      /self-signed|unable to verify|certificate/i,
    );
  });

  it.each([
    ['not JSON', '{"apiVersion":', /body is not JSON/],
    ['not a review', '{"apiVersion":"v1","kind":"Pod"}', /expected apiVersion admission.k8s.io\/v1/],
    [
      'v1beta1',
      '{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{}}',
      /admissionReviewVersions/,
    ],
    ['no request', '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}', /has no request/],
    [
      'no uid',
      '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview",' +
        '"request":{"kind":{"group":"","version":"v1","kind":"Pod"},"operation":"CREATE"}}',
      /uid/,
    ],
    ['array', '[]', /JSON object/],
  ])('answers a malformed review (%s) with 400 and the reason', async (_name, body, reason) => {
    const r = await httpsCall(server.url, { ca, path: '/mutate', body });
    expect(r.status).toBe(400);
    expect(r.body).toMatch(reason);
  });

  it('answers a review whose object is garbage with allowed and a warning, never a crash', async () => {
    const parsed = JSON.parse(review);
    for (const object of [
      null,
      'pod',
      { spec: { containers: 'x' } },
      { metadata: { annotations: { 'auth-shim.io/inject': 'true' } }, spec: { containers: [{ name: 1 }] } },
    ]) {
      parsed.request.object = object;
      const r = await httpsCall(server.url, { ca, path: '/mutate', body: JSON.stringify(parsed) });
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body).response.allowed).toBe(true);
    }
  });

  it('caps the body size (413) and keeps serving', async () => {
    const big = Buffer.alloc(MAX + 1, 'a');
    const r = await httpsCall(server.url, { ca, path: '/mutate', body: big });
    expect(r.status).toBe(413);
    expect(r.body).toMatch(/AUTH_SHIM_WEBHOOK_MAX_BODY_BYTES/);
    expect((await httpsCall(server.url, { ca, path: '/mutate', body: review })).status).toBe(200);
  });

  it('404s unknown paths and 405s other methods', async () => {
    expect((await httpsCall(server.url, { ca, path: '/other', body: review })).status).toBe(404);
    const r = await httpsCall(server.url, { ca, method: 'GET', path: '/mutate' });
    expect(r.status).toBe(405);
    expect(r.headers['allow']).toBe('POST');
  });

  it('answers within a few milliseconds, 50 reviews at once', async () => {
    const started = performance.now();
    const replies = await Promise.all(
      Array.from({ length: 50 }, () => httpsCall(server.url, { ca, path: '/mutate', body: review })),
    );
    const ms = performance.now() - started;
    expect(replies.every((r) => r.status === 200)).toBe(true);
    // Full TLS handshake per request on a 2-core machine; the webhook's own timeout is seconds.
    expect(ms).toBeLessThan(5000);
  });

  it('serves /healthz, /readyz and review metrics on the admin port', async () => {
    expect((await get(server.adminUrl, '/healthz')).status).toBe(200);
    expect(await get(server.adminUrl, '/readyz')).toEqual({ status: 200, body: 'ready\n' });
    const metrics = (await get(server.adminUrl, '/metrics')).body;
    expect(metrics).toMatch(/auth_shim_webhook_reviews_total\{decision="injected",dry_run="false"\} \d+/);
    expect(metrics).toMatch(/auth_shim_webhook_reviews_total\{decision="invalid",dry_run="false"\} \d+/);
    expect(metrics).toMatch(/auth_shim_webhook_certificate_expiry_timestamp_seconds \d+/);
  });

  it('counts dry-run reviews apart and answers them the same way', async () => {
    const parsed = JSON.parse(review);
    parsed.request.dryRun = true;
    const r = await httpsCall(server.url, { ca, path: '/mutate', body: JSON.stringify(parsed) });
    expect(JSON.parse(r.body).response.patchType).toBe('JSONPatch');
    expect((await get(server.adminUrl, '/metrics')).body).toMatch(
      /auth_shim_webhook_reviews_total\{decision="injected",dry_run="true"\} 1/,
    );
  });

  it('reloads a rotated certificate (kubelet ..data swap) without a restart', async () => {
    const before = await httpsCall(server.url, { ca, path: '/mutate', body: review });
    const next = await makeBundle();
    await writeKubeletSecret(dir, { 'tls.crt': next.cert, 'tls.key': next.key });
    let after = before;
    for (let i = 0; i < 100 && after.peerCertificate === before.peerCertificate; i++) {
      await new Promise((r) => setTimeout(r, 20));
      after = await httpsCall(server.url, { ca: next.caCert, path: '/mutate', body: review }).catch(() => before);
    }
    expect(after.status).toBe(200);
    expect(after.peerCertificate).not.toBe(before.peerCertificate);
    ca = next.caCert;
  });

  it('keeps the last good certificate when a rotation writes a mismatched pair', async () => {
    const a = await makeBundle();
    const b = await makeBundle();
    await writeKubeletSecret(dir, { 'tls.crt': a.cert, 'tls.key': b.key });
    await new Promise((r) => setTimeout(r, 200));
    const r = await httpsCall(server.url, { ca, path: '/mutate', body: review });
    expect(r.status).toBe(200);
    expect((await get(server.adminUrl, '/metrics')).body).toMatch(
      /auth_shim_webhook_tls_reloads_total\{result="error"\} [1-9]/,
    );
  });
});

describe('auth-shim webhook without a certificate yet', () => {
  it('is not ready, says why, and refuses handshakes instead of crashing', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'auth-shim-nocert-'));
    const s = await startWebhook({
      injector: goldenConfig(),
      listen: { host: '127.0.0.1', port: 0 },
      adminListen: { host: '127.0.0.1', port: 0 },
      maxBodyBytes: MAX,
      requestTimeoutMs: 2000,
      drainTimeoutMs: 100,
      certs: fileCertSource({ certFile: join(empty, 'tls.crt'), keyFile: join(empty, 'tls.key'), intervalMs: 60_000 }),
      log: quietLogger(),
      defaultMetrics: false,
    });
    try {
      const ready = await get(s.adminUrl, '/readyz');
      expect(ready.status).toBe(503);
      expect(ready.body).toMatch(/no serving certificate: .*tls\.crt does not exist; .*tls\.key does not exist/);
      const port = Number(new URL(s.url).port);
      await expect(
        new Promise((resolve, reject) => {
          const sock = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => resolve('connected'));
          sock.on('error', reject);
        }),
      ).rejects.toThrow();
    } finally {
      await s.shutdown();
      await removeDir(empty);
    }
  });
});
