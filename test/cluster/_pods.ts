import type { Obj } from '../controlplane/kube.js';
import { AGENT_IMAGE, background, kube, podScript, waitFor } from './_cluster.js';

/**
 * Pods of the agent image (Node 24 + the Claude Code CLI) that pass the `restricted` Pod Security
 * Standard, as deploy/agent's Deployment does: non-root numeric user, no privilege escalation, no
 * capabilities, RuntimeDefault seccomp, read-only root with emptyDir HOME and /tmp.
 */
export const RESTRICTED_POD_SECURITY = {
  runAsNonRoot: true,
  runAsUser: 1000,
  runAsGroup: 1000,
  fsGroup: 1000,
  seccompProfile: { type: 'RuntimeDefault' },
};
export const RESTRICTED_CONTAINER_SECURITY = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
};
export const AGENT_VOLUMES = [
  { name: 'home', emptyDir: {} },
  { name: 'tmp', emptyDir: {} },
];
export const AGENT_MOUNTS = [
  { name: 'home', mountPath: '/home/agent' },
  { name: 'tmp', mountPath: '/tmp' },
];
/**
 * What the e2e tests give the CLI: offline, no telemetry or update checks
 * (`CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC`, Claude Code's settings docs).
 */
export const CLAUDE_ENV = [
  { name: 'HOME', value: '/home/agent' },
  { name: 'CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC', value: '1' },
  { name: 'DISABLE_AUTOUPDATER', value: '1' },
];

/** `node -e <script from test/cluster/pod/>` as a container's command (its arguments start at `process.argv[1]`). */
export function nodeScript(name: string, ...args: string[]): string[] {
  return ['node', '--input-type=module', '-e', podScript(name), '--', ...args];
}

export interface AgentContainerOptions {
  readonly script: string;
  readonly args?: readonly string[];
  readonly env?: ReadonlyArray<{ name: string; value: string }>;
}

export function agentContainer(o: AgentContainerOptions): Obj {
  return {
    name: 'agent',
    image: AGENT_IMAGE,
    imagePullPolicy: 'Never',
    command: nodeScript(o.script, ...(o.args ?? [])),
    env: [...CLAUDE_ENV, ...(o.env ?? [])],
    resources: { requests: { cpu: '10m', memory: '64Mi' }, limits: { memory: '1Gi' } },
    securityContext: RESTRICTED_CONTAINER_SECURITY,
    volumeMounts: AGENT_MOUNTS,
  };
}

/** A pod spec with one agent container; `annotations` opt it into injection. */
export function agentPodTemplate(annotations: Record<string, string>, container: Obj, restartPolicy?: string): Obj {
  return {
    metadata: { annotations, labels: { 'app.kubernetes.io/part-of': 'agents' } },
    spec: {
      ...(restartPolicy !== undefined ? { restartPolicy } : {}),
      automountServiceAccountToken: false,
      securityContext: RESTRICTED_POD_SECURITY,
      containers: [container],
      volumes: AGENT_VOLUMES,
    },
  };
}

export interface LoopSummary {
  readonly ok: number;
  readonly failed: number;
  readonly output: string;
}

/**
 * Runs test/cluster/pod/loop.mjs in a pod's agent container (`kubectl exec`): requests one after
 * another through the sidecar. Resolves once the first one succeeded; `stop()` ends the loop and
 * returns its counts.
 */
export async function startRequestLoop(namespace: string, target: string): Promise<{ stop(): Promise<LoopSummary> }> {
  const exec = (args: string[]) => ['-n', namespace, 'exec', target, '-c', 'agent', '--', ...args];
  await kube.kubectl(exec(['node', '-e', "require('fs').rmSync('/tmp/stop-loop',{force:true})"]));
  const loop = background('kubectl', exec(nodeScript('loop.mjs', '900')));
  const stop = async (): Promise<LoopSummary> => {
    await kube.kubectl(exec(['node', '-e', "require('fs').writeFileSync('/tmp/stop-loop','')"]));
    await Promise.race([loop.exited, new Promise((r) => setTimeout(r, 60_000))]);
    await loop.stop();
    const line = loop
      .out()
      .split('\n')
      .find((l) => l.includes('"summary"'));
    if (line === undefined) throw new Error(`the request loop printed no summary:\n${loop.out().slice(-2000)}`);
    const s = JSON.parse(line) as { ok: number; failed: number };
    return { ok: s.ok, failed: s.failed, output: loop.out().slice(-2000) };
  };
  try {
    await waitFor(
      'the first answer of the request loop',
      async () => {
        if (loop.child.exitCode !== null) throw new Error(`the request loop exited: ${loop.out()}`);
        return loop.out().includes('"first-ok"') ? true : undefined;
      },
      300_000,
      200,
    );
  } catch (err) {
    await loop.stop();
    throw err;
  }
  return { stop };
}
