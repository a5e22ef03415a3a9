import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';

/** Clock ticks per second for /proc/<pid>/stat times (100 on every Linux this runs on). */
const CLK_TCK = 100;

/** Children the bench started, and whether each leads its own process group (`detached`). */
const children = new Map<ChildProcess, boolean>();

/** Spawns a child the bench owns: every one is killed when the bench exits, however it exits. */
export function spawnOwned(cmd: string, args: readonly string[], opts: SpawnOptions): ChildProcess {
  const child = spawn(cmd, args, opts);
  children.set(child, opts.detached === true);
  child.once('exit', () => children.delete(child));
  return child;
}

function signal(child: ChildProcess, sig: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(children.get(child) === true ? -child.pid : child.pid, sig);
  } catch {
    // already gone
  }
}

/** Stops one child: SIGTERM to its process group if it leads one, SIGKILL after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  signal(child, 'SIGTERM');
  const timer = setTimeout(() => signal(child, 'SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Kills every child still running (synchronous: also usable from an 'exit' handler). */
export function killAllOwned(): void {
  for (const child of children.keys()) signal(child, 'SIGKILL');
}

interface Stat {
  ppid: number;
  cpuTicks: number;
}

function stat(pid: number): Stat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), cpuTicks: Number(f[11]) + Number(f[12]) };
  } catch {
    return undefined;
  }
}

/** The pid and every descendant (LiteLLM runs a uvicorn worker under its CLI). */
export function processTree(root: number): number[] {
  const byParent = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const s = stat(pid);
    if (s === undefined) continue;
    const list = byParent.get(s.ppid) ?? [];
    list.push(pid);
    byParent.set(s.ppid, list);
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    out.push(pid);
    queue.push(...(byParent.get(pid) ?? []));
  }
  return out;
}

function statusFields(pid: number): { VmRSS: number; VmHWM: number; RssAnon: number } {
  const out = { VmRSS: 0, VmHWM: 0, RssAnon: 0 };
  try {
    for (const m of readFileSync(`/proc/${pid}/status`, 'utf8').matchAll(/^(VmRSS|VmHWM|RssAnon):\s+(\d+) kB/gm)) {
      out[m[1] as keyof typeof out] = Number(m[2]) * 1024;
    }
  } catch {
    // the process has gone: zeros
  }
  return out;
}

/** Bytes → MiB, one decimal (how every memory figure of the bench is reported). */
export const mib = (bytes: number): number => Math.round((bytes / 2 ** 20) * 10) / 10;

export interface Memory {
  /** VmRSS of the process and its descendants, MiB. */
  readonly rssMiB: number;
  /**
   * The anonymous part of it (RssAnon: heap, stacks, malloc arenas). The rest of VmRSS is
   * file-backed — mostly the executable's own pages, clean and shared through the page cache by
   * every process that maps the same file.
   */
  readonly anonMiB: number;
}

/** Resident memory of a process and its descendants, both figures from one reading. */
export function memory(pid: number): Memory {
  let rss = 0;
  let anon = 0;
  for (const p of processTree(pid)) {
    const f = statusFields(p);
    rss += f.VmRSS;
    anon += f.RssAnon;
  }
  return { rssMiB: mib(rss), anonMiB: mib(anon) };
}

/** Peak resident memory in bytes (VmHWM) of the process itself. */
export function peakRssBytes(pid: number): number {
  return statusFields(pid).VmHWM;
}

/** User + system CPU seconds of a process and its descendants. */
export function cpuSeconds(pid: number): number {
  return processTree(pid).reduce((sum, p) => sum + (stat(p)?.cpuTicks ?? 0), 0) / CLK_TCK;
}

/** One GET; resolves to the status code, or 0 when the connection failed. */
export function httpStatus(url: string, timeoutMs = 1_000): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

/**
 * Polls `url` every `everyMs` until it answers 200; resolves to the milliseconds since `since`
 * (a `performance.now()` reading), or throws after `timeoutMs` or if the child exits first.
 */
export async function waitReady(
  url: string,
  since: number,
  opts: { child?: ChildProcess; timeoutMs?: number; everyMs?: number; what: string },
): Promise<number> {
  const deadline = since + (opts.timeoutMs ?? 10_000);
  for (;;) {
    if (opts.child !== undefined && opts.child.exitCode !== null)
      throw new Error(`${opts.what} exited with code ${opts.child.exitCode} before ${url} answered 200`);
    if ((await httpStatus(url, 500)) === 200) return performance.now() - since;
    if (performance.now() > deadline)
      throw new Error(`${opts.what}: ${url} did not answer 200 within ${opts.timeoutMs ?? 10_000} ms`);
    await sleep(opts.everyMs ?? 2);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Nearest-rank percentile (p in 0–100). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const rank = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[rank] as number;
}
