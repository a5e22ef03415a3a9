import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

export interface ChildShim {
  readonly child: ChildProcess;
  readonly stdout: string[];
  readonly stderr: string[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the `listening` log line once the proxy is ready. */
  readonly listening: Promise<{ url: string; admin: string }>;
}

/** Runs the built CLI (`dist/cli.js`) with the Node running the tests (24, from devDependencies). */
export function runCli(args: string[], env: Record<string, string> = {}, nodeArgs: string[] = []): ChildShim {
  const child = spawn(process.execPath, [...nodeArgs, CLI, ...args], {
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  let onListening: (v: { url: string; admin: string }) => void = () => undefined;
  const listening = new Promise<{ url: string; admin: string }>((resolve) => (onListening = resolve));
  let partial = '';
  child.stdout?.on('data', (c: Buffer) => {
    partial += c.toString('utf8');
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      stdout.push(line);
      if (line.includes('"event":"listening"')) {
        const l = JSON.parse(line) as { url: string; admin: string };
        onListening({ url: l.url, admin: l.admin });
      }
    }
  });
  child.stderr?.on('data', (c: Buffer) => stderr.push(c.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  return { child, stdout, stderr, exited, listening };
}
