/**
 * Takes the cluster down completely: every container it ran, every process `up` started, the pod
 * network (veths, netns, bridge, route, iptables rules — kube-proxy's included), the mounts the
 * kubelet and containerd made. Kept: the image store (containerd's root) and the caches, so the next
 * `up` is warm. Safe to run when nothing is up.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../controlplane/cluster.js';
import { k8sBinary, START_ORDER } from './components.js';
import { CONTAINERD_SOCK, RUN_DIR, STATE_DIR } from './config.js';
import { ctr } from './images.js';
import { podNetnsPaths, removeNetns, teardown } from './network.js';
import { runningPid, signal, sleep, stop } from './procs.js';

/** Containers of this cluster, killed and removed through containerd (the kubelet is stopped first). */
async function removeContainers(): Promise<void> {
  const tasks = (await ctr(['tasks', 'list', '--quiet']).catch(() => '')).split('\n').filter(Boolean);
  for (const id of tasks) await ctr(['tasks', 'kill', '--signal', 'SIGKILL', id]).catch(() => '');
  const until = Date.now() + 15_000;
  for (const id of tasks) {
    while (
      (await ctr(['tasks', 'delete', id]).then(
        () => true,
        (e: Error) => /not found/.test(e.message),
      )) === false &&
      Date.now() < until
    )
      await sleep(200);
  }
  const containers = (await ctr(['containers', 'list', '--quiet']).catch(() => '')).split('\n').filter(Boolean);
  for (const id of containers) await ctr(['containers', 'delete', id]).catch(() => '');
}

/** containerd shims started by our containerd (its socket is on their command line), by pid. */
function ourShims(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmd: string[];
    try {
      cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if ((cmd[0] ?? '').endsWith('containerd-shim-runc-v2') && cmd.includes(CONTAINERD_SOCK)) pids.push(Number(entry));
  }
  return pids;
}

/** Every process left in the kubelet's pod cgroups (killed behind containerd's back), then the cgroups. */
async function clearPodCgroups(): Promise<void> {
  const root = '/sys/fs/cgroup';
  if (!existsSync(root)) return;
  for (const controller of readdirSync(root)) {
    const top = join(root, controller, 'kubepods');
    if (!existsSync(top)) continue;
    const dirs: string[] = [];
    const walk = (d: string) => {
      dirs.push(d);
      for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name));
    };
    walk(top);
    for (const d of dirs) {
      for (const pid of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean))
        signal(Number(pid), 'SIGKILL');
    }
    await sleep(200);
    for (const d of dirs.reverse()) await rmdir(d).catch(() => undefined);
  }
}

/** Mounts under our state and run directories (secret tmpfs, container rootfs, netns), deepest first. */
async function unmountOurs(): Promise<void> {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(`${STATE_DIR}/`) || m.startsWith(`${RUN_DIR}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) await run('umount', ['--lazy', m]);
}

export async function down(log: (line: string) => void): Promise<void> {
  const containerdUp = runningPid('containerd') !== undefined;
  const netns = containerdUp ? await podNetnsPaths(ctr) : [];
  for (const name of ['kube-proxy', 'kubelet'] as const) await stop(name);
  if (containerdUp) await removeContainers();
  await clearPodCgroups();
  for (const name of [...START_ORDER].reverse()) {
    if (runningPid(name) !== undefined) log(`stopping ${name}`);
    await stop(name);
  }
  for (const pid of ourShims()) signal(pid, 'SIGKILL');
  // kube-proxy's KUBE-* chains and jumps (iptables and ip6tables), then the kubelet's (KUBE-FIREWALL, canaries).
  if (existsSync(k8sBinaryOrEmpty())) await run(k8sBinaryOrEmpty(), ['--cleanup']);
  await removeKubeChains();
  await unmountOurs();
  await removeNetns(netns);
  await teardown();
  await rm(join(RUN_DIR, 'containerd'), { recursive: true, force: true });
}

/**
 * The KUBE-* chains the kubelet and kube-proxy made, and the jumps to them from the built-in chains.
 * Only this cluster runs a kubelet or kube-proxy on these machines, so every KUBE-* chain is ours.
 */
async function removeKubeChains(): Promise<void> {
  for (const bin of ['iptables', 'ip6tables']) {
    for (const table of ['filter', 'nat', 'mangle']) {
      const rules = (await run(bin, ['-w', '-t', table, '-S'])).stdout.split('\n');
      const chains = rules.flatMap((l) => /^-N (KUBE-\S+)$/.exec(l)?.[1] ?? []);
      if (chains.length === 0) continue;
      for (const builtin of rules.flatMap((l) => /^-P (\S+)/.exec(l)?.[1] ?? [])) {
        const listed = (await run(bin, ['-w', '-t', table, '-L', builtin, '-n', '--line-numbers'])).stdout.split('\n');
        const numbers = listed
          .flatMap((l) => /^(\d+)\s+KUBE-/.exec(l)?.[1] ?? [])
          .map(Number)
          .reverse();
        for (const n of numbers) await run(bin, ['-w', '-t', table, '-D', builtin, String(n)]);
      }
      for (const c of chains) await run(bin, ['-w', '-t', table, '-F', c]);
      for (const c of chains) await run(bin, ['-w', '-t', table, '-X', c]);
    }
  }
}

function k8sBinaryOrEmpty(): string {
  try {
    return k8sBinary('kube-proxy');
  } catch {
    return '';
  }
}
