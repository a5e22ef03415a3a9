/**
 * The cluster's long-running processes: started detached (they outlive `up`), output to a log file
 * (a pipe nobody drains would stall them), a pid file each. `down` stops them by those pids only,
 * after checking the pid still runs the binary it started (pids are reused).
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LOG_DIR, PID_DIR } from './config.js';

export function logFile(name: string): string {
  return join(LOG_DIR, `${name}.log`);
}

export function startDetached(
  name: string,
  bin: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): number {
  mkdirSync(LOG_DIR, { recursive: true });
  mkdirSync(PID_DIR, { recursive: true });
  const fd = openSync(logFile(name), 'a');
  const child = spawn(bin, args, { stdio: ['ignore', fd, fd], detached: true, env });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`cannot start ${bin}`);
  child.unref();
  writeFileSync(join(PID_DIR, name), `${child.pid} ${bin}\n`);
  return child.pid;
}

function exePath(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
  } catch {
    return undefined;
  }
}

/** The pid of a process this cluster started, if it is still that process. */
export function runningPid(name: string): number | undefined {
  const file = join(PID_DIR, name);
  if (!existsSync(file)) return undefined;
  const [pidText, bin] = readFileSync(file, 'utf8').trim().split(' ');
  const pid = Number(pidText);
  return Number.isInteger(pid) && pid > 0 && exePath(pid) === bin ? pid : undefined;
}

/** Sends a signal; a process that has just exited is not an error. */
export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * SIGTERM, then SIGKILL after `graceMs`; returns once the process is gone (kube-apiserver takes
 * seconds to exit, and a restart before it has released its port fails).
 */
export async function stop(name: string, graceMs = 15_000): Promise<void> {
  const pid = runningPid(name);
  if (pid !== undefined) {
    signal(pid, 'SIGTERM');
    const until = Date.now() + graceMs;
    while (exePath(pid) !== undefined) {
      if (Date.now() > until) signal(pid, 'SIGKILL');
      await sleep(100);
    }
  }
  rmSync(join(PID_DIR, name), { force: true });
}

export function logTail(name: string, lines = 25): string {
  try {
    return readFileSync(logFile(name), 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Polls `check` until it returns true; on timeout or when `name` died, throws with its log tail. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  opts: { timeoutMs: number; proc?: string },
): Promise<void> {
  const until = Date.now() + opts.timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    const dead = opts.proc !== undefined && runningPid(opts.proc) === undefined;
    if (dead || Date.now() > until) {
      const where =
        opts.proc === undefined
          ? ''
          : ` (${opts.proc} ${dead ? 'exited' : 'still running'}; ${logFile(opts.proc)}):\n${logTail(opts.proc)}`;
      throw new Error(`${what}: not within ${opts.timeoutMs / 1000} s${where}`);
    }
    await sleep(250);
  }
}
