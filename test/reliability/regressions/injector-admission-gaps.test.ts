import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { injectManifests } from '../../../src/injector/manifests.js';
import { mutate } from '../../../src/injector/mutate.js';
import { SERVICE_ACCOUNT_DIR, SIDECAR_NAME } from '../../../src/injector/sidecar.js';
import type { RunningWebhook } from '../../../src/injector/webhook-server.js';
import { goldenConfig, httpsCall, startTlsWebhook } from '../../injector/_helpers.js';

/**
 * Issue 15, items 1 and 10, on the injector's side — each was found against the built webhook:
 * - a pod nested ~5,000 levels deep got a plain HTTP 500 (a stack overflow in the mutation)
 *   instead of an AdmissionReview answer;
 * - pods in kube-public (and kube-node-lease) were injected;
 * - in an opted-in namespace any `auth-shim.io/status` value skipped injection silently;
 * - `shareProcessNamespace: true` pods were injected without a word, also in shim-only mode;
 * - the sidecar got the pod's service-account token although it never calls the API.
 * Reviews go over real TLS to a real webhook, as the API server sends them.
 */

const config = goldenConfig();
let webhook: Awaited<ReturnType<typeof startTlsWebhook>>;
let server: RunningWebhook;
let ca: string;

beforeAll(async () => {
  webhook = await startTlsWebhook(config);
  ({ server, ca } = webhook);
});

afterAll(async () => {
  await webhook?.close();
});

interface Answer {
  status: number;
  response: { allowed: boolean; patch?: string; warnings?: string[]; status?: { code: number; message: string } };
}

/** One review; `objectJson` is spliced in as text, so it may be nested deeper than JSON.stringify can go. */
async function reviewText(objectJson: string, opts: { namespace?: string; optedIn?: boolean } = {}): Promise<Answer> {
  const head = JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'u-1',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      operation: 'CREATE',
      namespace: opts.namespace ?? 'ai',
      object: '@',
    },
  });
  const body = head.replace('"@"', objectJson);
  const reply = await httpsCall(server.url, {
    ca,
    path: opts.optedIn === true ? '/mutate/namespace-enabled' : '/mutate',
    body,
  });
  return {
    status: reply.status,
    response:
      reply.status === 200 ? (JSON.parse(reply.body) as { response: Answer['response'] }).response : { allowed: false },
  };
}

const review = (pod: unknown, opts?: { namespace?: string; optedIn?: boolean }) =>
  reviewText(JSON.stringify(pod), opts);

function pod(annotations: Record<string, string>, spec: Record<string, unknown> = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'agent', annotations },
    spec: { containers: [{ name: 'agent', image: 'a' }], ...spec },
  };
}

function patchOf(a: Answer): Array<{ path: string; value: unknown }> {
  return JSON.parse(Buffer.from(a.response.patch ?? 'W10=', 'base64').toString('utf8')) as Array<{
    path: string;
    value: unknown;
  }>;
}

describe('regression: injector admission gaps', () => {
  it('a pod nested 5,000 levels deep gets an AdmissionReview denial with the reason, not a 500', async () => {
    const deep = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`;
    const object =
      '{"apiVersion":"v1","kind":"Pod","metadata":{"annotations":{"auth-shim.io/inject":"true"}},' +
      `"spec":{"containers":[{"name":"a","image":"b","env":[{"name":"X","value":"y","deep":${deep}}]}]}}`;
    const a = await reviewText(object);
    expect(a.status).toBe(200);
    expect(a.response).toMatchObject({
      allowed: false,
      status: { code: 400, message: expect.stringContaining('nests more than 100 levels') },
    });
    // Not annotated: the same answer, nothing recursive ran on it either.
    expect((await reviewText(object.replace('"auth-shim.io/inject":"true"', '"x":"y"'))).status).toBe(200);
    // `inject` reports it as a problem instead of crashing.
    const yaml =
      'apiVersion: v1\nkind: Pod\nmetadata: {name: p, annotations: {auth-shim.io/inject: "true"}}\nspec:\n' +
      `  containers: [{name: p, image: p, x: ${'['.repeat(5000)}${']'.repeat(5000)}}]\n`;
    expect(injectManifests(yaml, 'deep.yaml', config, { all: false }).problems.join()).toMatch(
      /nests more than 100 levels|cannot be read|not valid YAML/,
    );
  });

  it('kube-public and kube-node-lease are never injected, annotated or opted in', async () => {
    for (const namespace of ['kube-public', 'kube-node-lease']) {
      for (const optedIn of [false, true]) {
        const a = await review(pod({ 'auth-shim.io/inject': 'true' }), { namespace, optedIn });
        expect(a.response.allowed).toBe(true);
        expect(a.response.patch).toBeUndefined();
        expect(a.response.warnings?.join()).toContain(`pods in ${namespace} are never injected`);
      }
    }
  });

  it('opted-in namespace: only "injected" plus the sidecar skips; other statuses are denied, with why', async () => {
    for (const status of ['skip-me', 'Injected', '']) {
      const a = await review(pod({ 'auth-shim.io/status': status }), { optedIn: true });
      expect(a.response, status).toMatchObject({
        allowed: false,
        status: { code: 400, message: expect.stringContaining('only the injector writes this annotation') },
      });
    }
    const noSidecar = await review(pod({ 'auth-shim.io/status': 'injected' }), { optedIn: true });
    expect(noSidecar.response.allowed).toBe(false);
    const real = await review(
      pod(
        { 'auth-shim.io/status': 'injected' },
        { initContainers: [{ name: SIDECAR_NAME, image: 'x', restartPolicy: 'Always' }] },
      ),
      { optedIn: true },
    );
    expect(real.response).toEqual({ uid: 'u-1', allowed: true });
    // Not asked for (no annotation, namespace not opted in): still a silent skip.
    expect((await review(pod({ 'auth-shim.io/status': 'skip-me' }))).response).toEqual({ uid: 'u-1', allowed: true });
  });

  it('shareProcessNamespace: a warning in every mode, denied in shim-only unless annotated to accept it', async () => {
    const shared = { shareProcessNamespace: true };
    const clientFirst = await review(pod({ 'auth-shim.io/inject': 'true' }, shared));
    expect(clientFirst.response.allowed).toBe(true);
    expect(patchOf(clientFirst).length).toBeGreaterThan(0);
    expect(clientFirst.response.warnings?.join()).toContain('shareProcessNamespace: true');

    const shimOnly = { 'auth-shim.io/inject': 'true', 'auth-shim.io/credential-source': 'shim-only' };
    const refused = await review(pod(shimOnly, shared));
    expect(refused.response).toMatchObject({
      allowed: false,
      status: { message: expect.stringContaining('auth-shim.io/accept-shared-process-namespace: "true"') },
    });
    const accepted = await review(pod({ ...shimOnly, 'auth-shim.io/accept-shared-process-namespace': 'true' }, shared));
    expect(accepted.response.allowed).toBe(true);
    expect(accepted.response.warnings?.join()).toContain('shareProcessNamespace: true');
    expect((await review(pod(shimOnly))).response.warnings).toBeUndefined();

    // `inject` says the same on stderr (its notes).
    const yaml =
      'apiVersion: v1\nkind: Pod\nmetadata: {name: p, annotations: {auth-shim.io/inject: "true"}}\nspec:\n' +
      '  shareProcessNamespace: true\n  containers: [{name: p, image: p}]\n';
    expect(injectManifests(yaml, 'shared.yaml', config, { all: false }).notes.join()).toContain(
      'shareProcessNamespace: true',
    );
  });

  it('the sidecar, and only the sidecar, mounts an empty directory over the service-account token', () => {
    const m = mutate({ pod: pod({ 'auth-shim.io/inject': 'true' }), namespace: 'ai', namespaceOptedIn: false, config });
    if (m.outcome !== 'injected') throw new Error(m.outcome);
    const spec = m.pod['spec'] as {
      initContainers: Array<{
        name: string;
        volumeMounts: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
      }>;
      containers: Array<{ volumeMounts?: unknown[] }>;
      volumes: Array<{ name: string; emptyDir?: unknown }>;
    };
    const mount = spec.initContainers[0]?.volumeMounts.find((v) => v.mountPath === SERVICE_ACCOUNT_DIR);
    expect(mount?.readOnly).toBe(true);
    expect(spec.volumes.find((v) => v.name === mount?.name)?.emptyDir).toBeDefined();
    expect(spec.containers[0]?.volumeMounts).toBeUndefined();
  });
});
