import { readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { review } from '../../src/injector/admission.js';
import { mutate } from '../../src/injector/mutate.js';
import { SKIP_REASONS } from '../../src/injector/skip-reasons.js';
import { goldenConfig, httpsCall, startTlsWebhook } from './_helpers.js';

const golden = (name: string) => readFile(join(import.meta.dirname, 'golden', `${name}.in.json`), 'utf8');

function metricsText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    httpRequest(`${url}/metrics`, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    })
      .on('error', reject)
      .end();
  });
}

describe('skip reasons are codes (issue 16, item 6)', () => {
  it.each([
    ['already-injected', 'already_injected'],
    ['host-network', 'host_network'],
    ['kube-system', 'protected_namespace'],
    ['kube-public', 'protected_namespace'],
  ])('%s -> %s', async (name, code) => {
    const parsed = JSON.parse(await golden(name)) as {
      request: Parameters<typeof review>[0] & { object: unknown; namespace: string };
    };
    const r = review(parsed.request, goldenConfig(), false);
    expect(r.decision).toBe('skipped');
    expect(r.skipCode).toBe(code);
  });

  it('a pod that asked for nothing is not_requested, a non-pod object no_pod_spec', () => {
    const config = goldenConfig();
    expect(
      mutate({ pod: { spec: { containers: [{ name: 'a' }] } }, namespace: 'agents', namespaceOptedIn: false, config }),
    ).toMatchObject({ outcome: 'skipped', code: 'not_requested' });
    expect(mutate({ pod: { kind: 'ConfigMap' }, namespace: 'agents', namespaceOptedIn: false, config })).toMatchObject({
      outcome: 'skipped',
      code: 'no_pod_spec',
    });
  });

  it('every code is documented with a meaning', () => {
    for (const [code, meaning] of Object.entries(SKIP_REASONS)) {
      expect(code).toMatch(/^[a-z_]+$/);
      expect(meaning.length).toBeGreaterThan(10);
    }
  });

  describe('on the webhook metric', () => {
    let hook: Awaited<ReturnType<typeof startTlsWebhook>>;
    beforeAll(async () => {
      hook = await startTlsWebhook(goldenConfig());
    });
    afterAll(async () => {
      await hook?.close();
    });

    it('a skipped review counts with its reason; other decisions keep their label set', async () => {
      for (const name of ['host-network', 'kube-system', 'annotated-native']) {
        const r = await httpsCall(hook.server.url, { ca: hook.ca, path: '/mutate', body: await golden(name) });
        expect(r.status).toBe(200);
      }
      const text = await metricsText(hook.server.adminUrl);
      expect(text).toMatch(
        /auth_shim_webhook_reviews_total\{decision="skipped",dry_run="false",reason="host_network"\} 1/,
      );
      expect(text).toMatch(
        /auth_shim_webhook_reviews_total\{decision="skipped",dry_run="false",reason="protected_namespace"\} 1/,
      );
      expect(text).toMatch(/auth_shim_webhook_reviews_total\{decision="injected",dry_run="false"\} 1/);
    });
  });
});
