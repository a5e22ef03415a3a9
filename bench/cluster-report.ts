/** What `npm run bench:cluster` measured in real pods (bench/results/cluster.json). */
export interface ClusterResults {
  readonly generatedAt: string;
  readonly seconds: number;
  readonly machine: Record<string, string>;
  /** Bytes of the unpacked image as the node reports it (`status.images`). */
  readonly imageBytes: Record<string, number>;
  /** The sidecar container's working set (cgroup usage − inactive file), bytes. */
  readonly memory: {
    readonly idle: number;
    readonly afterRequests: number;
    readonly requests: number;
    readonly requestsFailed: number;
    readonly openStreams: number;
    readonly streams: number;
  };
  /** Pod creation → agent container's first line, ms, interleaved runs. */
  readonly podStart: { readonly plain: number[]; readonly injected: number[]; readonly afterReady?: number[] };
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

const mib = (b: number): string => (b / 2 ** 20).toFixed(1);

/** The section docs/PERFORMANCE.md ends with when bench/results/cluster.json exists. */
export function renderClusterSection(r: ClusterResults): string {
  const plain = median(r.podStart.plain);
  const injected = median(r.podStart.injected);
  const images = Object.entries(r.imageBytes)
    .map(([name, bytes]) => `| \`${name}\` | ${mib(bytes)} MiB |`)
    .join('\n');
  return `## In a pod (the test cluster)

\`npm run bench:cluster\` (needs \`npm run cluster -- up\`; ~${Math.max(1, Math.round(r.seconds / 60))} min) \
measures the image built from
the Dockerfile and the injected sidecar on the one-node test cluster (containerd, kubelet
${r.machine['kubernetes'] ?? ''}, ${r.machine['cpus'] ?? '?'} CPUs; ${r.generatedAt}). \
Memory is the sidecar container's working set as the
kubelet counts it — its cgroup's usage minus inactive file pages — read on the node. Load comes from
the agent container of the same pod, through \`127.0.0.1:8787\`, to a fake Anthropic on the node.

| image | size (unpacked, as the node reports it) |
|---|---|
${images}

| sidecar working set | MiB |
|---|---|
| idle, after start | ${mib(r.memory.idle)} |
| after ${r.memory.requests.toLocaleString('en-US')} requests (8 at a time; ${r.memory.requestsFailed} failed) \
| ${mib(r.memory.afterRequests)} |
| with ${r.memory.streams} streams open | ${mib(r.memory.openStreams)} |

| pod start (create → agent's first line), ${r.podStart.plain.length} runs each, interleaved | median ms | all runs |
|---|---|---|
| no injection | ${plain.toFixed(0)} | ${r.podStart.plain.join(', ')} |
| injected (native sidecar, startup probe) | ${injected.toFixed(0)} | ${r.podStart.injected.join(', ')} |
| **delay the sidecar adds** | **${(injected - plain).toFixed(0)}** | |
${
  r.podStart.afterReady === undefined || r.podStart.afterReady.length === 0
    ? ''
    : `| sidecar ready (its \`listening\` line) → the agent's first line \
| ${median(r.podStart.afterReady).toFixed(0)} | ${r.podStart.afterReady.join(', ')} |
`
}
The agent waits for the sidecar's container and Node to start, then for the startup probe to see
\`/readyz\` answer 200: the kubelet runs a startup probe on its own ticker (\`periodSeconds: 1\`, the
smallest Kubernetes allows), so a sidecar that becomes ready just after a failed probe waits up to a
second — about half a second on average — before the agent container is created. The last row holds
that wait plus the agent container's own start (create, start, Node), which a pod without the sidecar
pays too. Replacing the startup probe with a \`postStart\` exec hook that polls \`/readyz\` every 50 ms
was measured too (8 interleaved runs each, 2026-12-01): median 2,763 ms against 2,816 ms with the probe —
the second Node process the hook starts costs what the probe's wait did, and a hook would hold the
kubelet's pod worker while a Secret is missing — so the probe stays. The sidecar's own container and
Node start-up are the rest of the delay.
`;
}
