import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { runInject } from '../../src/cli/inject.js';
import { injectManifests } from '../../src/injector/manifests.js';
import { podSites } from '../../src/injector/workloads.js';
import { cliIo as io, GOLDEN_ENV, goldenConfig, removeDir, validatePod } from './_helpers.js';

const config = goldenConfig();
const ANNOTATED = `      annotations:\n        auth-shim.io/inject: "true"\n`;

const KINDS = `# agents for team a
apiVersion: v1
kind: ConfigMap # untouched, comments and {flow: style} kept
metadata: {name: settings}
data: {a: "1"}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: agent
  namespace: ai
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata:
      labels: {app: agent}
${ANNOTATED}    spec:
      containers:
      - name: agent # the Claude Code container
        image: ghcr.io/example/agent:1.0
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: s}
spec:
  serviceName: s
  selector: {matchLabels: {app: s}}
  template:
    metadata:
${ANNOTATED}    spec:
      containers: [{name: s, image: s}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: d}
spec:
  selector: {matchLabels: {app: d}}
  template:
    metadata:
${ANNOTATED}    spec:
      containers: [{name: d, image: d}]
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: r}
spec:
  selector: {matchLabels: {app: r}}
  template:
    metadata:
${ANNOTATED}    spec:
      containers: [{name: r, image: r}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: j}
spec:
  template:
    metadata:
${ANNOTATED}    spec:
      restartPolicy: Never
      containers: [{name: j, image: j}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: c}
spec:
  schedule: "@hourly"
  jobTemplate:
    spec:
      template:
        metadata:
          annotations:
            auth-shim.io/inject: "true"
        spec:
          restartPolicy: OnFailure
          containers: [{name: c, image: c}]
---
apiVersion: v1
kind: Pod
metadata:
  name: p
  annotations: {auth-shim.io/inject: "true"}
spec:
  containers: [{name: p, image: p}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: not-annotated}
spec:
  selector: {matchLabels: {app: n}}
  template:
    metadata: {labels: {app: n}}
    spec:
      containers: [{name: plain, image: plain}]  # not n: YAML 1.1 (kubectl) reads a plain n as false
`;

function docs(text: string): unknown[] {
  return parseAllDocuments(text).map((d) => (d as { toJS(): unknown }).toJS());
}

describe('injectManifests', () => {
  it('injects every workload kind and leaves other documents byte for byte', () => {
    const r = injectManifests(KINDS, 'kinds.yaml', config, { all: false });
    expect(r.problems).toEqual([]);
    const inDocs = KINDS.split(/^---\n/m);
    const outDocs = r.output.split(/^---\n/m);
    expect(outDocs).toHaveLength(inDocs.length);
    expect(outDocs[0]).toBe(inDocs[0]);
    expect(outDocs.at(-1)).toBe(inDocs.at(-1));
    expect(outDocs[1]).toContain('- name: agent # the Claude Code container');
    const out = docs(r.output);
    for (const doc of out.slice(1, -1)) {
      const [site] = podSites(doc);
      if (site === undefined) throw new Error('no pod');
      expect(
        (site.pod as { metadata: { annotations: Record<string, string> } }).metadata.annotations['auth-shim.io/status'],
      ).toBe('injected');
      validatePod({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x' }, ...(site.pod as object) });
    }
    expect(r.notes.filter((n) => n.endsWith('injected'))).toHaveLength(7);
  });

  it('is idempotent: injecting the output again changes nothing', () => {
    const once = injectManifests(KINDS, 'a', config, { all: true }).output;
    expect(injectManifests(once, 'a', config, { all: true }).output).toBe(once);
  });

  it('--all opts in everything not annotated "false"', () => {
    const r = injectManifests(KINDS, 'a', config, { all: true });
    const last = docs(r.output).at(-1) as { spec: { template: { spec: { initContainers?: unknown[] } } } };
    expect(last.spec.template.spec.initContainers).toHaveLength(1);
  });

  it('injects the items of a List', () => {
    const list =
      'apiVersion: v1\nkind: List\nitems:\n' +
      '- apiVersion: v1\n  kind: Pod\n  metadata: {name: a, annotations: {auth-shim.io/inject: "true"}}\n' +
      '  spec: {containers: [{name: a, image: a}]}\n' +
      '- apiVersion: v1\n  kind: Service\n  metadata: {name: s}\n';
    const out = docs(injectManifests(list, 'list', config, { all: false }).output)[0] as {
      items: [{ spec: { initContainers: { name: string }[] } }, unknown];
    };
    expect(out.items[0].spec.initContainers[0]?.name).toBe('auth-shim');
    expect(out.items[1]).toEqual({ apiVersion: 'v1', kind: 'Service', metadata: { name: 's' } });
  });

  it('reports a pod it cannot inject and a YAML error with the file and document', () => {
    const bad =
      'apiVersion: v1\nkind: Pod\n' +
      'metadata: {name: p, annotations: {auth-shim.io/inject: "true", auth-shim.io/upstream: "ftp://x"}}\n' +
      'spec: {containers: [{name: p}]}\n---\na: [\n';
    const r = injectManifests(bad, 'bad.yaml', config, { all: false });
    expect(r.problems).toEqual([
      'bad.yaml: document 1 (Pod p): auth-shim.io/upstream must be an http(s) URL, got "ftp://x"',
      expect.stringMatching(/^bad\.yaml: document 2: not valid YAML/),
    ]);
  });

  it('copies input with nothing to inject unchanged, empty input included', () => {
    for (const text of ['', '# only a comment\n', 'kind: Service\nmetadata: {name: s}\n']) {
      expect(injectManifests(text, 'x', config, { all: true }).output).toBe(text);
    }
  });
});

describe('auth-shim inject', () => {
  it('reads several files, and stdin for -', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'auth-shim-inject-'));
    try {
      await writeFile(join(dir, 'a.yaml'), KINDS);
      const t = io('kind: Service\nmetadata: {name: s}\n');
      expect(await runInject([join(dir, 'a.yaml'), '-'], t.io)).toBe(0);
      const out = docs(t.result().stdout);
      expect(out).toHaveLength(10);
      expect(out.at(-1)).toEqual({ kind: 'Service', metadata: { name: 's' } });
    } finally {
      await removeDir(dir);
    }
  });

  it('writes nothing and exits 1 when a pod cannot be injected', async () => {
    const t = io(
      'apiVersion: v1\nkind: Pod\nmetadata: {name: p, annotations: {auth-shim.io/inject: "maybe"}}\n' +
        'spec: {containers: [{name: p}]}\n',
    );
    expect(await runInject([], t.io)).toBe(1);
    expect(t.result().stdout).toBe('');
    expect(t.result().stderr).toContain('auth-shim.io/inject must be "true" or "false", got "maybe"');
  });

  it('reports every configuration problem at once and exits 2', async () => {
    const t = io('');
    t.io.env = { AUTH_SHIM_SIDECAR_MEMORY_LIMIT: 'lots', AUTH_SHIM_SIDECAR_PORT: '9464' };
    expect(await runInject(['--bogus', 'x'], t.io)).toBe(2);
    const { stderr } = t.result();
    expect(stderr).toContain('AUTH_SHIM_SIDECAR_IMAGE is required');
    expect(stderr).toContain('AUTH_SHIM_SIDECAR_MEMORY_LIMIT must be a Kubernetes quantity');
    expect(stderr).toContain('AUTH_SHIM_SIDECAR_PORT and AUTH_SHIM_SIDECAR_ADMIN_PORT must differ');
    expect(stderr).toContain('unknown flag --bogus');
  });

  it('reports a missing file', async () => {
    const t = io('');
    expect(await runInject(['/nonexistent/x.yaml'], t.io)).toBe(1);
    expect(t.result().stderr).toContain('/nonexistent/x.yaml: no such file');
  });

  it('works as a Helm post-renderer: the built CLI, stdin to stdout, flags instead of env', async () => {
    const cli = join(import.meta.dirname, '..', '..', 'dist', 'cli.js');
    const child = spawn(
      process.execPath,
      [
        cli,
        'inject',
        '--sidecar-image',
        'registry.example/auth-shim:1',
        '--default-upstream-url',
        'http://litellm:4000/anthropic',
        '--oauth-token-secret',
        'claude',
      ],
      { env: { PATH: process.env['PATH'] ?? '' } },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdin.end(KINDS);
    const code = await new Promise((r) => child.on('close', r));
    expect(stderr).toContain('injected');
    expect(code).toBe(0);
    expect(stdout).toContain('image: registry.example/auth-shim:1');
    expect(docs(stdout)).toHaveLength(9);
  });
});

describe('lazy loading', () => {
  it('`auth-shim inject` never loads @kubernetes/client-node', async () => {
    const cli = join(import.meta.dirname, '..', '..', 'dist', 'cli.js');
    const trace = join(import.meta.dirname, '..', 'helpers', 'trace-imports.mjs');
    const child = spawn(process.execPath, ['--import', trace, cli, 'inject'], {
      env: { PATH: process.env['PATH'] ?? '', ...GOLDEN_ENV },
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdout.resume();
    child.stdin.end(KINDS);
    expect(await new Promise((r) => child.on('close', r))).toBe(0);
    expect(stderr).not.toContain('TRACE-IMPORT');
  });
});
