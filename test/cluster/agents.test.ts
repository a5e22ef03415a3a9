import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  sseEvents,
  startFakeAnthropic,
  type FakeAnthropic,
  type RecordedRequest,
} from '../../src/demo/fake-anthropic.js';
import { parseManifests } from '../chart/_render.js';
import { getJson, type Obj } from '../controlplane/kube.js';
import { CLAUDE_CODE, ensureClaudeCode, LITELLM_NEW, startLitellm, type Litellm } from '../e2e/_peers.js';
import { OAUTH, OAUTH_2 } from '../helpers/shim.js';
import {
  AGENT_IMAGE,
  background,
  createNamespace,
  deleteNamespaces,
  docCommand,
  helmOk,
  hostService,
  kube,
  kwait,
  LOCAL_IMAGE_VALUES,
  nodeAddress,
  requireCluster,
  sh,
  shOk,
  waitFor,
  type Background,
} from './_cluster.js';
import {
  agentContainer,
  agentPodTemplate,
  nodeScript,
  startRequestLoop,
  AGENT_MOUNTS,
  AGENT_VOLUMES,
  CLAUDE_ENV,
  type LoopSummary,
} from './_pods.js';

/**
 * What a user does, on a real one-node cluster with the image built from the Dockerfile: install
 * the chart as docs/KUBERNETES.md says, run deploy/agent (the real Claude Code CLI) next to a real
 * LiteLLM, and use every command the docs print against it. LiteLLM and the recording fake
 * Anthropic run on the host, on the node's bridge address, behind a selectorless Service
 * `litellm.ai.svc:4000` — the URL the docs use. Names are the docs' own (`agents`,
 * `auth-shim-system`, `claude-agent`, `claude-oauth`), so leftovers of an aborted run are removed
 * first.
 */

const DOC = 'docs/KUBERNETES.md';
const RELEASE_NS = 'auth-shim-system';
const NS = 'agents';
const ELSEWHERE_NS = 'agents-elsewhere';
const AGENT = 'app.kubernetes.io/name=claude-agent';
const HELLO = 'Hello from the fake Anthropic.';

let fake: FakeAnthropic;
let litellm: Litellm;
let bridge: string;

function messages(since = 0, marker?: string): RecordedRequest[] {
  return fake.requests
    .slice(since)
    .filter((r) => r.url.startsWith('/v1/messages') && (marker === undefined || r.body.toString().includes(marker)));
}

/**
 * A command as docs/KUBERNETES.md prints it; where the README's Kubernetes section shows it too,
 * the two must be the same command, so running one runs both.
 */
function shown(prefix: string, alsoInReadme = true): string {
  const cmd = docCommand(DOC, prefix);
  if (alsoInReadme) expect(docCommand('README.md', prefix), `README.md and ${DOC} differ`).toBe(cmd);
  return cmd;
}

function bearer(r: RecordedRequest): string | undefined {
  return r.headers['authorization']?.[0]?.replace(/^Bearer /, '');
}

async function cleanUp(): Promise<void> {
  await helmUninstall();
  await deleteNamespaces(NS, ELSEWHERE_NS, 'ai', RELEASE_NS);
}

async function helmUninstall(): Promise<void> {
  if ((await helmOk(['list', '-n', RELEASE_NS, '-q'])).includes('auth-shim'))
    await helmOk(['uninstall', 'auth-shim', '-n', RELEASE_NS, '--wait', '--timeout', '300s']);
}

/** deploy/agent as kustomize renders it, with the agent image built here running test/cluster/pod/claude-agent.mjs. */
async function deployAgentObjects(): Promise<Obj[]> {
  const items = parseManifests(await kube.kubectlOk(['kustomize', 'deploy/agent'])) as unknown as Obj[];
  for (const o of items) {
    if (o['kind'] !== 'Deployment') continue;
    const pod = (o.spec?.['template'] as Obj).spec as { containers: Obj[]; volumes: Obj[] };
    const c = pod.containers[0] as Obj & { env: Array<{ name: string; value: string }>; volumeMounts: Obj[] };
    c['image'] = AGENT_IMAGE;
    c['imagePullPolicy'] = 'Never';
    c['command'] = nodeScript('claude-agent.mjs');
    delete c['args'];
    c.env = [...CLAUDE_ENV.filter((e) => !c.env.some((x) => x.name === e.name)), ...c.env];
    // The CLI writes to /tmp besides $HOME; the example mounts only $HOME on a read-only root.
    c.volumeMounts = [...c.volumeMounts, ...AGENT_MOUNTS.filter((m) => m.name === 'tmp')];
    pod.volumes = [...pod.volumes, ...AGENT_VOLUMES.filter((v) => v.name === 'tmp')];
  }
  return items;
}

let clusterUp = false;

beforeAll(async () => {
  await requireCluster();
  clusterUp = true;
  await cleanUp();
  bridge = await nodeAddress();
  fake = await startFakeAnthropic(bridge);
  litellm = await startLitellm(LITELLM_NEW, fake.url, { host: bridge });
  await createNamespace('ai');
  await kube.kubectlOk(
    ['apply', '-f', '-'],
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: hostService('litellm', 'ai', 4000, bridge, Number(new URL(litellm.origin).port)),
    }),
  );
}, 900_000);

afterAll(async () => {
  if (clusterUp) await cleanUp();
  await litellm?.stop();
  await fake?.close();
}, 900_000);

describe('the injector chart, installed as docs/KUBERNETES.md says', () => {
  it("helm install --wait returns with every webhook entry's caBundle written; then helm test passes", async () => {
    const install = shown('helm install auth-shim ');
    // "From a checkout, use ./charts/auth-shim instead of the OCI reference"; the image is the one built here.
    const local = install.replace(/oci:\/\/\S+ --version \S+/, './charts/auth-shim');
    expect(local).not.toBe(install);
    await shOk(`${local} ${LOCAL_IMAGE_VALUES.join(' ')} --wait --timeout 600s`);
    // Replicas are ready only once the caBundle is written, so `--wait` means injection works.
    const bundles = (
      await kube.kubectlOk([
        'get',
        'mutatingwebhookconfiguration',
        'auth-shim',
        '-o',
        'jsonpath={.webhooks[*].clientConfig.caBundle}',
      ])
    )
      .trim()
      .split(/\s+/);
    expect(bundles).toHaveLength(2);
    expect(bundles[0]?.length).toBeGreaterThan(100);
    const test = await shOk(shown('helm test auth-shim'));
    expect(test).toMatch(/Phase:\s+Succeeded/);
  }, 900_000);
});

describe('deploy/agent: the real Claude Code CLI with the injected sidecar, through a real LiteLLM', () => {
  let since: number;

  beforeAll(async () => {
    since = fake.requests.length;
    const objs = await deployAgentObjects();
    const ns = objs.filter((o) => o['kind'] === 'Namespace');
    await kube.kubectlOk(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: ns }));
    // The docs' commands, with the values they leave to the reader. No LiteLLM database here, so
    // its master key stands in for the agent's virtual key (`/key/generate` needs a database).
    await shOk(shown('kubectl -n agents create secret generic claude-oauth'), { CLAUDE_OAUTH_TOKEN: OAUTH });
    await shOk(docCommand(DOC, 'kubectl -n agents create secret generic litellm-virtual-key-claude-agent'), {
      KEY: litellm.masterKey,
    });
    // The README's shorter variant: the chart's default Secret name (the Jobs below use it).
    await shOk(docCommand('README.md', 'kubectl -n agents create secret generic litellm-virtual-key '), {
      AGENT_VIRTUAL_KEY: litellm.masterKey,
    });
    await kube.kubectlOk(
      ['apply', '-f', '-'],
      JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objs.filter((o) => o['kind'] !== 'Namespace') }),
    );
    await kube.kubectlOk(['-n', NS, 'rollout', 'status', 'deploy/claude-agent', '--timeout=600s']);
  }, 900_000);

  it('the pod is injected (the status command prints "injected"), passes the namespace\'s restricted PSS', async () => {
    expect(await shOk(shown('kubectl -n agents get pod -l app.kubernetes.io/name=claude-agent'))).toBe('injected');
    // Troubleshooting: "read the webhook log of every replica (one line per review)"; the review of
    // this pod went to one of the two replicas.
    expect(await shOk(docCommand(DOC, 'kubectl -n auth-shim-system logs -l app.kubernetes.io/name=auth-shim'))).toMatch(
      /"event":"review".*"claude-agent-/,
    );
    const ns = await getJson(kube, ['namespace', NS]);
    expect((ns.metadata?.['labels'] as Record<string, string>)['pod-security.kubernetes.io/enforce']).toBe(
      'restricted',
    );
    const pod = (((await getJson(kube, ['pods', '-n', NS, '-l', AGENT])).items ?? []) as Obj[])[0] as Obj;
    const init = (pod.spec?.['initContainers'] ?? []) as Array<{ name: string; restartPolicy?: string }>;
    expect(init.map((c) => [c.name, c.restartPolicy])).toEqual([['auth-shim', 'Always']]);
    // The namespace really enforces: a pod that breaks the standard is refused there.
    const bad = await kube.kubectl([
      '-n',
      NS,
      'run',
      'pss-probe',
      '--image=localhost/agent:e2e',
      '--image-pull-policy=Never',
      '--dry-run=server',
      '--',
      'node',
      '-e',
      '0',
    ]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/violates PodSecurity "restricted/);
  }, 300_000);

  it('claude -p streams its answer; Anthropic gets Bearer, OAuth beta, no x-api-key; LiteLLM got its key', async () => {
    const result = await waitFor(
      'Claude Code finishing in the agent container',
      async () => {
        const logs = await kube.kubectl(['-n', NS, 'logs', 'deploy/claude-agent', '-c', 'agent']);
        const line = logs.stdout.split('\n').find((l) => l.includes('"claude-exited"'));
        return line === undefined ? undefined : (JSON.parse(line) as { code: number | null; out: string; err: string });
      },
      600_000,
      2000,
    );
    expect(result.code, `claude -p: ${result.err}`).toBe(0);
    expect(String((JSON.parse(result.out) as { result?: unknown }).result)).toContain(HELLO);
    const got = messages(since);
    expect(got.length).toBeGreaterThan(0);
    for (const r of got) {
      expect(bearer(r)).toBe(OAUTH);
      expect(r.headers['x-api-key']).toBeUndefined();
      expect(r.headers['anthropic-beta']?.[0]?.split(',')).toContain('oauth-2025-04-20');
      // Claude Code always sends `"stream": true` to /v1/messages: the answer the CLI printed came as SSE.
      expect(JSON.parse(r.body.toString()) as { stream?: boolean }).toMatchObject({ stream: true });
      // LiteLLM 1.106.4 does not forward x-litellm-api-key (test/e2e/litellm.test.ts); that it
      // answered at all proves the key arrived there: the request's Authorization holds the OAuth
      // token, so x-litellm-api-key was LiteLLM's only credential.
    }
  }, 900_000);

  it('the port-forward recipe: readyz, metrics, a request, and a local claude -p', async () => {
    const pf = background('sh', [shown('kubectl -n agents port-forward deploy/claude-agent')]);
    try {
      await waitFor(
        'port-forward listening on 8787 and 9464',
        async () => {
          if (pf.child.exitCode !== null) throw new Error(`port-forward exited: ${pf.out()}`);
          return pf.out().includes(':8787') && pf.out().includes(':9464') ? true : undefined;
        },
        120_000,
        200,
      );
      expect(await shOk(shown('curl -s http://127.0.0.1:9464/readyz'))).toMatch(/ready/i);
      expect(await shOk(docCommand(DOC, 'curl -s http://127.0.0.1:9464/metrics | grep auth_shim_credential'))).toMatch(
        /auth_shim_credential/,
      );
      const before = fake.requests.length;
      const answer = await shOk(docCommand(DOC, 'curl -s http://127.0.0.1:8787/v1/messages'));
      expect(answer).toContain(HELLO);
      expect(bearer(messages(before).at(-1) as RecordedRequest)).toBe(OAUTH);

      const claudeBin = await ensureClaudeCode(CLAUDE_CODE);
      const home = await mkdtemp(join(tmpdir(), 'cluster-claude-home-'));
      try {
        const before2 = fake.requests.length;
        const out = await shOk(
          shown('ANTHROPIC_BASE_URL=http://127.0.0.1:8787 ANTHROPIC_API_KEY=placeholder claude -p'),
          {
            PATH: `${join(claudeBin, '..')}:${process.env['PATH'] ?? ''}`,
            HOME: home,
            CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
            DISABLE_AUTOUPDATER: '1',
          },
        );
        expect(out).toContain(HELLO);
        expect(messages(before2).map(bearer)).toContain(OAUTH);
      } finally {
        await rm(home, { recursive: true, force: true });
      }
    } finally {
      await pf.stop();
    }
  }, 600_000);

  it('kubectl exec … check, exactly as the docs print it, passes', async () => {
    const cmd = shown('kubectl -n agents exec deploy/claude-agent -c auth-shim');
    const r = await sh(cmd);
    expect(r.code, `${cmd}:\n${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/litellm/i);
  }, 300_000);

  it('a Secret rotation reaches the running sidecar via the kubelet under a request loop: none failed', async () => {
    const loop = await startRequestLoop(NS, 'deploy/claude-agent');
    let applied: number;
    let summary: LoopSummary | undefined;
    try {
      const since = fake.requests.length;
      const t0 = Date.now();
      await shOk(shown('kubectl -n agents create secret generic claude-oauth --from-literal=oauth-token="$NEW"'), {
        NEW: OAUTH_2,
      });
      const first = await waitFor(
        'a request with the rotated token',
        async () => {
          const i = messages(since).findIndex((r) => bearer(r) === OAUTH_2);
          return i === -1 ? undefined : since + i;
        },
        600_000,
        250,
      );
      applied = Date.now() - t0;
      // After the first request with the new token, a few more: none may go back to the old one.
      await waitFor(
        '20 more requests',
        async () => (fake.requests.length > first + 20 ? true : undefined),
        120_000,
        250,
      );
      expect(
        messages(first)
          .map(bearer)
          .filter((t) => t !== OAUTH_2),
      ).toEqual([]);
    } finally {
      summary = await loop.stop();
    }
    expect(summary.failed, summary.output).toBe(0);
    expect(summary.ok).toBeGreaterThan(20);
    process.stderr.write(
      `[cluster] kubelet Secret rotation: applied ${applied} ms after kubectl apply; ` +
        `${summary.ok} requests, ${summary.failed} failed\n`,
    );
  }, 900_000);

  it("a Job and a CronJob's Job with the native sidecar run to Complete (real CLI, own token)", async () => {
    const token = `${OAUTH}-JOB`;
    const annotations = {
      'auth-shim.io/inject': 'true',
      'auth-shim.io/credential-source': 'client-first',
      'auth-shim.io/litellm-key-secret': 'litellm-virtual-key-claude-agent',
    };
    const template = agentPodTemplate(
      annotations,
      agentContainer({ script: 'claude-once.mjs', env: [{ name: 'ANTHROPIC_API_KEY', value: token }] }),
      'Never',
    );
    const job = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'agent-once', namespace: NS },
      spec: { backoffLimit: 0, template },
    };
    const cron = {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'agent-cron', namespace: NS },
      spec: {
        schedule: '* * * * *',
        concurrencyPolicy: 'Forbid',
        successfulJobsHistoryLimit: 1,
        failedJobsHistoryLimit: 1,
        jobTemplate: { spec: { backoffLimit: 0, template } },
      },
    };
    const since = fake.requests.length;
    await kube.kubectlOk(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [job, cron] }));
    try {
      await kwait(['-n', NS, '--for=condition=Complete', 'job/agent-once'], 600);
      const spawned = await waitFor(
        'a Job spawned by the CronJob',
        async () => {
          const jobs = ((await getJson(kube, ['jobs', '-n', NS])).items ?? []) as Obj[];
          const j = jobs.find((x) =>
            ((x.metadata?.['ownerReferences'] ?? []) as Array<{ kind: string; name: string }>).some(
              (o) => o.kind === 'CronJob' && o.name === 'agent-cron',
            ),
          );
          return j?.metadata?.['name'] as string | undefined;
        },
        180_000,
        2000,
      );
      await kwait(['-n', NS, '--for=condition=Complete', `job/${spawned}`], 600);
      for (const name of ['agent-once', spawned]) {
        const pod = (
          ((await getJson(kube, ['pods', '-n', NS, '-l', `job-name=${name}`])).items ?? []) as Obj[]
        )[0] as Obj;
        expect((pod.spec?.['initContainers'] as Array<{ name: string }>).map((c) => c.name)).toEqual(['auth-shim']);
      }
      const got = messages(since).filter((r) => bearer(r) === token);
      expect(got.length).toBeGreaterThanOrEqual(2);
      for (const r of got) expect(r.headers['x-api-key']).toBeUndefined();
    } finally {
      await kube.kubectl([
        '-n',
        NS,
        'delete',
        'cronjob/agent-cron',
        'job/agent-once',
        '--ignore-not-found',
        '--wait=false',
      ]);
    }
  }, 1_200_000);

  it('no injected pod of this suite was evicted while it ran (kubelet checks volume limits every ~10 s)', async () => {
    // Regression: the emptyDir that keeps the API token out of the sidecar had sizeLimit 1Ki, and the
    // kubelet counts the empty directory's own 4 KiB block, so every injected pod was evicted about a
    // minute after it started. The tests above keep pods running for minutes.
    const events = await getJson(kube, ['events', '-n', NS, '--field-selector', 'reason=Evicted']);
    const messages = ((events['items'] as { message?: string }[] | undefined) ?? []).map((e) => e.message);
    expect(messages).toEqual([]);
  });
});

describe('deleting a pod during an open stream', () => {
  /** A stream held open by the fake until the test releases it, then finished event by event. */
  function holdStreams(): { release: () => void } {
    let release: () => void = () => undefined;
    const released = new Promise<void>((r) => (release = r));
    const previous = fake.respond;
    fake.respond = async (req, res, raw) => {
      if (!req.body.toString().includes('drain-test')) return previous(req, res, raw);
      const events = sseEvents(
        'claude-sonnet-4-5',
        Array.from({ length: 10 }, (_, i) => ` part ${i}`),
      );
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(events.slice(0, 3).join(''));
      await released;
      for (const e of events.slice(3)) {
        if (res.destroyed) return;
        res.write(e);
        await new Promise((r) => setTimeout(r, 200));
      }
      res.end();
    };
    return { release };
  }

  it.each([
    ['native', 'true'],
    ['classic', 'false'],
  ])(
    '%s sidecar: the stream completes, then the pod terminates',
    async (_kind, native) => {
      const name = `drain-${_kind}`;
      const hold = holdStreams();
      const since = fake.requests.length;
      const annotations = {
        'auth-shim.io/inject': 'true',
        'auth-shim.io/native-sidecar': native,
        'auth-shim.io/upstream': fake.url,
        'auth-shim.io/litellm-key-secret': '',
        'auth-shim.io/credential-source': 'shim-only',
      };
      const template = agentPodTemplate(
        annotations,
        agentContainer({ script: 'stream.mjs', args: ['drain-test'] }),
        'Never',
      );
      const pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace: NS, ...template.metadata },
        spec: template.spec,
      };
      const logs: Background[] = [];
      try {
        await kube.kubectlOk(['apply', '-f', '-'], JSON.stringify(pod));
        await waitFor(
          'the stream request at the fake',
          async () => (messages(since, 'drain-test').length > 0 ? true : undefined),
          600_000,
          500,
        );
        // `logs -f` gives up at once on a container the kubelet has not reported running yet, and
        // the agent sends its request before that report reaches the API server.
        await waitFor(
          'the agent container reported running',
          async () => {
            const p = await getJson(kube, ['pod', name, '-n', NS]);
            const statuses =
              (p['status'] as { containerStatuses?: Array<{ name: string; state?: { running?: unknown } }> })
                .containerStatuses ?? [];
            return statuses.find((c) => c.name === 'agent')?.state?.running === undefined ? undefined : true;
          },
          120_000,
          200,
        );
        logs.push(
          background('kubectl', ['-n', NS, 'logs', '-f', name, '-c', 'agent']),
          background('kubectl', ['-n', NS, 'logs', '-f', name, '-c', 'auth-shim']),
        );
        const [agentLog, shimLog] = logs as [Background, Background];
        await waitFor(
          'the first events at the agent',
          async () => (agentLog.out().includes('"chunk"') ? true : undefined),
          120_000,
          200,
        );
        await kube.kubectlOk(['-n', NS, 'delete', 'pod', name, '--wait=false']);
        await waitFor(
          'SIGTERM at the agent',
          async () => (agentLog.out().includes('"sigterm"') ? true : undefined),
          120_000,
          200,
        );
        // A classic sidecar gets SIGTERM together with the agent: the stream must survive its drain.
        if (native === 'false')
          await waitFor(
            'the sidecar draining',
            async () => (shimLog.out().includes('"draining"') ? true : undefined),
            120_000,
            200,
          );
        hold.release();
        await kube.kubectlOk(['-n', NS, 'wait', '--for=delete', `pod/${name}`, '--timeout=300s']);
        const done = agentLog
          .out()
          .split('\n')
          .find((l) => l.includes('"done"'));
        expect(done, agentLog.out()).toBeDefined();
        expect(JSON.parse(done as string)).toMatchObject({ complete: true });
        expect(agentLog.out().indexOf('"sigterm"')).toBeLessThan(agentLog.out().indexOf('"done"'));
        // The sidecar's own token: whatever claude-oauth holds now (the rotation test changed it).
        const current = Buffer.from(
          await kube.kubectlOk(['-n', NS, 'get', 'secret', 'claude-oauth', '-o', 'jsonpath={.data.oauth-token}']),
          'base64',
        ).toString();
        expect(bearer(messages(since, 'drain-test')[0] as RecordedRequest)).toBe(current);
      } finally {
        hold.release();
        for (const l of logs) await l.stop();
        await kube.kubectl(['-n', NS, 'delete', 'pod', name, '--ignore-not-found', '--wait=false']);
      }
    },
    900_000,
  );
});

describe('webhook down (its Deployment scaled to 0), as docs/KUBERNETES.md describes failurePolicy', () => {
  it('opted-in namespace refuses pods (Fail); an annotated pod elsewhere gets in sidecar-less (Ignore)', async () => {
    await shOk(shown('kubectl label namespace agents auth-shim.io/inject=enabled'));
    await createNamespace(ELSEWHERE_NS);
    await kube.kubectlOk(['-n', RELEASE_NS, 'scale', 'deploy/auth-shim', '--replicas=0']);
    await waitFor(
      'no webhook pod left',
      async () =>
        (
          (
            await getJson(kube, [
              'pods',
              '-n',
              RELEASE_NS,
              '-l',
              'app.kubernetes.io/name=auth-shim,app.kubernetes.io/instance=auth-shim',
            ])
          ).items as Obj[]
        ).length === 0
          ? true
          : undefined,
      300_000,
      1000,
    );
    const spec = agentPodTemplate({}, agentContainer({ script: 'claude-once.mjs' }), 'Never');
    const refused = await kube.kubectl(
      ['create', '-f', '-'],
      JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'agent', namespace: NS }, spec: spec.spec }),
    );
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/failed calling webhook "namespace\.auth-shim\.io"/);
    const admitted = JSON.parse(
      await kube.kubectlOk(
        ['create', '-f', '-', '-o', 'json'],
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'agent', namespace: ELSEWHERE_NS, annotations: { 'auth-shim.io/inject': 'true' } },
          spec: spec.spec,
        }),
      ),
    ) as Obj;
    expect(admitted.spec?.['initContainers']).toBeUndefined();
    expect((admitted.metadata?.['annotations'] as Record<string, string>)['auth-shim.io/status']).toBeUndefined();
  }, 600_000);
});
