/**
 * `npm run cluster -- up|down|status|env`: the one-node Kubernetes cluster test/cluster runs
 * against (docs/KUBERNETES.md, "The test cluster"). Needs root (containerd, kubelet, iptables).
 * Only one command changes the cluster at a time on a machine (a lock in RUN_DIR), whichever
 * checkout runs it.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { kubectl } from './addons.js';
import { START_ORDER } from './components.js';
import { BIN_DIR, IMAGES, KUBECONFIG, RUN_DIR, STATE_FILE } from './config.js';
import { down } from './down.js';
import { imageSize } from './images.js';
import { logFile, runningPid, sleep } from './procs.js';
import { up, type Phase } from './up.js';

const LOCK = `${RUN_DIR}.lock`;

async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  for (let waited = 0; ; waited += 1000) {
    try {
      await mkdir(LOCK);
      break;
    } catch {
      const pidFile = `${LOCK}/pid`;
      const holder = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) || 0 : 0;
      // A holder that died, or one that never wrote its pid (killed right after mkdir): the lock is stale.
      const stale =
        holder > 0
          ? !existsSync(`/proc/${holder}`)
          : Date.now() - (statSync(LOCK, { throwIfNoEntry: false })?.mtimeMs ?? Date.now()) > 30_000;
      if (stale) {
        await rm(LOCK, { recursive: true, force: true });
        continue;
      }
      if (waited % 30_000 === 0)
        process.stderr.write(`waiting for another cluster command (pid ${holder || '?'}) to finish…\n`);
      await sleep(1000);
    }
  }
  await writeFile(`${LOCK}/pid`, String(process.pid));
  try {
    return await fn();
  } finally {
    await rm(LOCK, { recursive: true, force: true });
  }
}

function table(phases: readonly Phase[], totalMs: number): string {
  const w = Math.max(...phases.map((p) => p.name.length));
  const rows = phases.map((p) => `  ${p.name.padEnd(w)}  ${(p.ms / 1000).toFixed(1).padStart(6)} s  ${p.note}`);
  return [...rows, `  ${'total'.padEnd(w)}  ${(totalMs / 1000).toFixed(1).padStart(6)} s`].join('\n');
}

async function status(): Promise<number> {
  let ok = true;
  for (const name of START_ORDER) {
    const pid = runningPid(name);
    ok &&= pid !== undefined;
    process.stdout.write(
      `${name.padEnd(24)} ${pid === undefined ? 'not running' : `pid ${pid}`}  (${logFile(name)})\n`,
    );
  }
  if (ok) {
    process.stdout.write(
      await kubectl(['get', 'nodes,pods', '--all-namespaces', '-o', 'wide']).catch((e: Error) => `${e.message}\n`),
    );
    for (const tag of [IMAGES.shim, IMAGES.agent])
      process.stdout.write(`${tag}: ${await imageSize(tag).catch(() => '?')}\n`);
  }
  if (existsSync(STATE_FILE)) process.stdout.write(`state: ${readFileSync(STATE_FILE, 'utf8')}\n`);
  return ok ? 0 : 1;
}

async function main(cmd: string | undefined): Promise<number> {
  if (cmd === 'env') {
    process.stdout.write(`export KUBECONFIG=${KUBECONFIG}\nexport PATH=${BIN_DIR}:$PATH\n`);
    return 0;
  }
  if (cmd === 'status') return status();
  if (cmd !== 'up' && cmd !== 'down') {
    process.stderr.write('usage: npm run cluster -- up|down|status|env\n');
    return 2;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write('the test cluster runs containerd, a kubelet and iptables rules: run it as root\n');
    return 1;
  }
  await mkdir(RUN_DIR, { recursive: true });
  const t0 = Date.now();
  if (cmd === 'down') {
    await withLock(() => down((l) => process.stderr.write(`${l}\n`)));
    process.stderr.write(`cluster down in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    return 0;
  }
  const phases = await withLock(up);
  process.stderr.write(`cluster up:\n${table(phases, Date.now() - t0)}\n`);
  for (const tag of [IMAGES.shim, IMAGES.agent]) process.stderr.write(`  ${tag}: ${await imageSize(tag)}\n`);
  process.stdout.write(`export KUBECONFIG=${KUBECONFIG}\n`);
  return 0;
}

main(process.argv[2]).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`cluster ${process.argv[2] ?? ''}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
