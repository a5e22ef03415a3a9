import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { injectManifestBytes, injectManifests, MAX_INPUT_BYTES } from '../../../src/injector/manifests.js';
import { CLI } from '../../helpers/child.js';
import { run } from '../../helpers/helm.js';
import { GOLDEN_ENV, goldenConfig } from '../../injector/_helpers.js';

/**
 * Issue 15, item 6 (and item 10's byte-for-byte copy): `auth-shim inject` read YAML 1.2 while
 * kubectl reads YAML 1.1.
 * - Annotations from a merge key (`<<: {auth-shim.io/inject: "true"}`) were not seen: the pod was
 *   written back uninjected, exit 0, and kubectl then applied it with the annotation.
 * - A value such as `no` (a container named `no` in `auth-shim.io/base-url-kept`) was written
 *   unquoted: kubectl reads a boolean and refuses the pod.
 * - A container list shared through an anchor (`&c` / `*c`) was edited once, so a workload that
 *   never asked for injection got `ANTHROPIC_BASE_URL` pointing at a sidecar it does not have.
 * - Invalid UTF-8 in an untouched document came out as U+FFFD.
 * - A 40 MB input took 24 s and 1.1 GB here (52 s and 1.6 GB in the review); inputs are now
 *   capped at MAX_INPUT_BYTES.
 * Every output is read back with the `yaml` package in 1.1 and 1.2 mode and with the real kubectl.
 */

const config = goldenConfig();
let discovery: Server;
let server: string;

/** kubectl needs API discovery to map kinds even with --dry-run=client; nothing else is served. */
beforeAll(async () => {
  const lists: Record<string, unknown> = {
    '/api': { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] },
    '/apis': {
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: [
        {
          name: 'apps',
          versions: [{ groupVersion: 'apps/v1', version: 'v1' }],
          preferredVersion: { groupVersion: 'apps/v1', version: 'v1' },
        },
      ],
    },
    '/api/v1': {
      kind: 'APIResourceList',
      groupVersion: 'v1',
      resources: [
        { name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs: ['create'] },
        { name: 'lists', singularName: '', namespaced: false, kind: 'List', verbs: [] },
      ],
    },
    '/apis/apps/v1': {
      kind: 'APIResourceList',
      groupVersion: 'apps/v1',
      resources: [
        { name: 'deployments', singularName: 'deployment', namespaced: true, kind: 'Deployment', verbs: ['create'] },
      ],
    },
  };
  discovery = createServer((req, res) => {
    const body = lists[(req.url ?? '').split('?')[0] ?? ''];
    res
      .writeHead(body === undefined ? 404 : 200, { 'content-type': 'application/json' })
      .end(JSON.stringify(body ?? {}));
  });
  await new Promise<void>((r) => discovery.listen(0, '127.0.0.1', r));
  server = `http://127.0.0.1:${(discovery.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => discovery.close(r));
});

/** What kubectl makes of YAML: the objects it would send (`create --dry-run=client -o json`). */
async function kubectlReads(yaml: string): Promise<Array<Record<string, unknown>>> {
  const r = await run(
    'kubectl',
    ['--server', server, 'create', '--dry-run=client', '--validate=false', '-o', 'json', '-f', '-'],
    { input: yaml, env: { KUBECONFIG: '/dev/null', HOME: '/tmp' } },
  );
  if (r.code !== 0) throw new Error(`kubectl refused the YAML:\n${r.stderr}`);
  // One JSON object per item, printed one after the other.
  return JSON.parse(`[${r.stdout.trim().replace(/\n\}\n\{/g, '\n},\n{')}]`) as Array<Record<string, unknown>>;
}

/** `auth-shim inject` (the built CLI) with `input` on stdin; stdout as bytes. */
function inject(input: Buffer): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  const child = spawn(process.execPath, [CLI, 'inject'], {
    env: { PATH: process.env['PATH'] ?? '', ...GOLDEN_ENV },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  let err = '';
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
  // The CLI may stop reading (and close stdin) once the input is over the limit.
  child.stdin.on('error', () => undefined).end(input);
  return new Promise((resolve) =>
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: err })),
  );
}

function readAs(version: '1.1' | '1.2', text: string): unknown[] {
  return parseAllDocuments(text, { version, merge: version === '1.1' }).map((d) => (d as { toJS(): unknown }).toJS());
}

/** The output reads the same to YAML 1.1 and 1.2, and to kubectl. */
async function sameEverywhere(text: string): Promise<Array<Record<string, unknown>>> {
  expect(readAs('1.2', text)).toEqual(readAs('1.1', text));
  return kubectlReads(text);
}

type PodLike = {
  metadata: { annotations?: Record<string, string> };
  spec: {
    initContainers?: Array<{ name: string }>;
    containers: Array<{ name: string; env?: Array<{ name: string; value?: string }> }>;
  };
};
const sidecarOf = (p: PodLike) => (p.spec.initContainers ?? []).map((c) => c.name);
const baseUrlOf = (p: PodLike) =>
  p.spec.containers.flatMap((c) => (c.env ?? []).filter((e) => e.name === 'ANTHROPIC_BASE_URL'));

describe('regression: inject reads YAML as kubectl does and writes YAML every parser reads alike', () => {
  it('annotations from a merge key are seen: the pod is injected', async () => {
    const input = `apiVersion: v1
kind: Pod
metadata:
  name: agent
  namespace: ai
  annotations:
    <<: {auth-shim.io/inject: "true"}
spec:
  containers: [{name: agent, image: agent}]
`;
    const before = (await kubectlReads(input))[0] as PodLike;
    expect(before.metadata.annotations?.['auth-shim.io/inject']).toBe('true');
    const r = injectManifests(input, 'merge.yaml', config, { all: false });
    expect(r.problems).toEqual([]);
    const pod = (await sameEverywhere(r.output))[0] as PodLike;
    expect(sidecarOf(pod)).toEqual(['auth-shim']);
    expect(pod.metadata.annotations).toMatchObject({
      'auth-shim.io/inject': 'true',
      'auth-shim.io/status': 'injected',
    });
  });

  it('a container named "no" is quoted in base-url-kept; every plain-looking value stays a string', async () => {
    const input = `apiVersion: v1
kind: Pod
metadata:
  name: agent
  annotations: {auth-shim.io/inject: "true", example.com/octal: "0755", example.com/on: "on"}
spec:
  containers:
    - name: "no"
      image: agent
      env: [{name: ANTHROPIC_BASE_URL, value: "http://elsewhere"}, {name: FLAG, value: "y"}, {name: NUM, value: "0o17"}]
    - name: "yes"
      image: agent
`;
    const r = injectManifests(input, 'quoted.yaml', config, { all: false });
    expect(r.problems).toEqual([]);
    const pod = (await sameEverywhere(r.output))[0] as PodLike;
    expect(pod.metadata.annotations).toMatchObject({
      'auth-shim.io/base-url-kept': 'no',
      'example.com/octal': '0755',
      'example.com/on': 'on',
    });
    expect(pod.spec.containers.map((c) => c.name)).toEqual(['no', 'yes']);
    expect(pod.spec.containers[0]?.env?.map((e) => e.value)).toEqual(['http://elsewhere', 'y', '0o17']);
  });

  it('a container list shared through an anchor never gives a non-annotated workload ANTHROPIC_BASE_URL', async () => {
    const input = `apiVersion: v1
kind: List
items:
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: annotated, namespace: ai}
    spec:
      selector: {matchLabels: {app: a}}
      template:
        metadata: {labels: {app: a}, annotations: {auth-shim.io/inject: "true"}}
        spec:
          containers: &c
            - name: agent
              image: agent
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: plain, namespace: ai}
    spec:
      selector: {matchLabels: {app: b}}
      template:
        metadata: {labels: {app: b}}
        spec:
          containers: *c
`;
    const r = injectManifests(input, 'anchors.yaml', config, { all: false });
    expect(r.problems).toEqual([]);
    expect(r.notes.join('\n')).toContain('written out resolved');
    const [annotated, plain] = (await sameEverywhere(r.output)).map(
      (d) => (d as { spec: { template: PodLike } }).spec.template,
    );
    expect(sidecarOf(annotated as PodLike)).toEqual(['auth-shim']);
    expect(baseUrlOf(annotated as PodLike)).toHaveLength(1);
    expect(sidecarOf(plain as PodLike)).toEqual([]);
    expect(baseUrlOf(plain as PodLike)).toEqual([]);
  });

  it('an untouched document with invalid UTF-8 is copied byte for byte; one to inject is refused, not mangled', () => {
    const bad = Buffer.concat([
      Buffer.from('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: raw}\ndata: {k: "caf'),
      Buffer.from([0xe9, 0xff]),
      Buffer.from('"}\n---\n'),
    ]);
    const pod = Buffer.from(
      'apiVersion: v1\nkind: Pod\nmetadata: {name: p, annotations: {auth-shim.io/inject: "true"}}\n' +
        'spec:\n  containers: [{name: p, image: p}]\n',
    );
    const r = injectManifestBytes(Buffer.concat([bad, pod]), 'bytes.yaml', config, { all: false });
    expect(r.problems).toEqual([]);
    expect(r.output.subarray(0, bad.length).equals(bad)).toBe(true);
    expect(r.output.toString('utf8')).toContain('auth-shim.io/status: injected');

    const badPod = Buffer.concat([pod.subarray(0, pod.length - 1), Buffer.from(' # \xff\n', 'latin1')]);
    const refused = injectManifestBytes(badPod, 'bad-pod.yaml', config, { all: false });
    expect(refused.problems.join()).toContain('invalid UTF-8 at byte');
  });

  it('the CLI keeps the bytes too, and refuses an input over the limit before parsing it', async () => {
    const raw = Buffer.concat([
      Buffer.from('kind: ConfigMap\ndata: {k: "'),
      Buffer.from([0xc3, 0x28, 0xa0]),
      Buffer.from('"}\n'),
    ]);
    const ok = await inject(raw);
    expect(ok.code).toBe(0);
    expect(ok.stdout.equals(raw)).toBe(true);

    const over = await inject(Buffer.alloc(MAX_INPUT_BYTES + 1, 0x0a));
    expect(over.code).toBe(1);
    expect(over.stderr).toContain(`over the ${MAX_INPUT_BYTES}-byte input limit`);
  });
});
