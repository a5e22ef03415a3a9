import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jsonpatch from 'fast-json-patch';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadProxyConfig } from '../../src/config/proxy-config.js';
import { parseAdmissionReview, review } from '../../src/injector/admission.js';
import { injectManifests } from '../../src/injector/manifests.js';
import { mutate } from '../../src/injector/mutate.js';
import { SIDECAR_NAME } from '../../src/injector/sidecar.js';
import type { RunningWebhook } from '../../src/injector/webhook-server.js';
import { expectGolden, goldenConfig, httpsCall, removeDir, startTlsWebhook, validatePod } from './_helpers.js';

/**
 * One golden pair per edge case: `<case>.in.json` (the AdmissionReview the API server sends) and
 * `<case>.out.json` (the response, its patch decoded). Every review goes over real TLS to a real
 * webhook; every patch is applied with fast-json-patch and the result validated against the
 * Kubernetes Pod schema; the same pod through `auth-shim inject` must come out identical.
 * Regenerate with `UPDATE_GOLDEN=1 npx vitest run test/injector/golden.test.ts` and read the diff.
 */

const DIR = join(import.meta.dirname, 'golden');
const config = goldenConfig();
let webhook: Awaited<ReturnType<typeof startTlsWebhook>>;
let server: RunningWebhook;
let ca: string;

let identityTokenDir: string | undefined;
let identityTokenFile: string;

beforeAll(async () => {
  identityTokenDir = await mkdtemp(join(tmpdir(), 'auth-shim-golden-'));
  identityTokenFile = join(identityTokenDir, 'token');
  await writeFile(identityTokenFile, 'eyJhbGciOiJSUzI1NiJ9.e30.c2ln');
  webhook = await startTlsWebhook(config);
  ({ server, ca } = webhook);
});

afterAll(async () => {
  await webhook?.close();
  if (identityTokenDir !== undefined) await removeDir(identityTokenDir);
});

const cases = (await readdir(DIR))
  .filter((f) => f.endsWith('.in.json'))
  .map((f) => f.replace(/\.in\.json$/, ''))
  .sort();

describe('golden AdmissionReviews', () => {
  it('has a case for every edge case of the issue', () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
  });

  it.each(cases)('%s', async (name) => {
    const input = await readFile(join(DIR, `${name}.in.json`), 'utf8');
    const optedIn = name.startsWith('ns-enabled-');
    const reply = await httpsCall(server.url, {
      ca,
      path: optedIn ? '/mutate/namespace-enabled' : '/mutate',
      body: input,
    });
    expect(reply.status).toBe(200);
    const out = JSON.parse(reply.body) as {
      response: { uid: string; allowed: boolean; patch?: string; patchType?: string };
    };
    const { patch: encoded, ...response } = out.response;
    const patch =
      encoded === undefined
        ? undefined
        : (JSON.parse(Buffer.from(encoded, 'base64').toString('utf8')) as jsonpatch.Operation[]);
    await expectGolden(
      join(DIR, `${name}.out.json`),
      `${JSON.stringify({ response, patch: patch ?? null }, null, 2)}\n`,
    );

    // The HTTP path and the pure decision agree.
    const parsed = parseAdmissionReview(JSON.parse(input));
    if ('problem' in parsed) throw new Error(parsed.problem);
    expect(review(parsed.request, config, optedIn).review).toEqual(out);
    expect(response.uid).toBe(parsed.request.uid);
    if (patch === undefined) return;

    const pod = jsonpatch.applyPatch(structuredClone(parsed.request.object), patch, true, false).newDocument as Record<
      string,
      unknown
    >;
    validatePod(pod);

    // The sidecar's environment is accepted by the real proxy configuration loader.
    const spec = (
      pod as unknown as {
        spec: {
          initContainers?: { name: string; env: { name: string; value: string }[] }[];
          containers: { name: string; env: { name: string; value: string }[] }[];
        };
      }
    ).spec;
    const sidecar = [...(spec.initContainers ?? []), ...spec.containers].find((c) => c.name === SIDECAR_NAME);
    if (sidecar === undefined) throw new Error('no sidecar');
    const env: Record<string, string> = Object.fromEntries(sidecar.env.map((e) => [e.name, e.value]));
    // A federated sidecar's token file is the kubelet's to write: stand in for it as the pod would have it.
    if (env['AUTH_SHIM_IDENTITY_TOKEN_FILE'] !== undefined) env['AUTH_SHIM_IDENTITY_TOKEN_FILE'] = identityTokenFile;
    const proxy = loadProxyConfig(env);
    expect(proxy.listen.host).toBe('127.0.0.1');

    // Idempotent: the injected pod is never injected twice.
    expect(mutate({ pod, namespace: parsed.request.namespace, namespaceOptedIn: optedIn, config })).toMatchObject({
      outcome: 'skipped',
      warn: false,
    });

    // `auth-shim inject` makes the same pod from the same input.
    const manifest = structuredClone(parsed.request.object) as { metadata: Record<string, unknown> };
    manifest.metadata['namespace'] = parsed.request.namespace;
    const rendered = injectManifests(stringify(manifest), 'golden', config, { all: optedIn });
    expect(rendered.problems).toEqual([]);
    const fromInject = parse(rendered.output) as { metadata: Record<string, unknown> };
    delete fromInject.metadata['namespace'];
    expect(fromInject).toEqual(pod);
  });
});
