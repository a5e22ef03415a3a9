import { once } from 'node:events';
import { mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createNetServer, connect, type Server as NetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { runCli, type ChildShim } from '../helpers/child.js';
import { LITELLM_KEY, SECRETS } from '../helpers/shim.js';

/** Where each test file drops its figures; `node scripts/reliability-report.mjs` renders the table. */
export const FIGURES_DIR = fileURLToPath(new URL('../../node_modules/.cache/auth-shim/reliability/', import.meta.url));

/** One row of docs/RELIABILITY.md. */
export interface Figures {
  readonly item: string;
  readonly requests: number;
  readonly faults: number;
  readonly failures: number;
  readonly leaks: number;
  readonly peakRssBytes: number;
  readonly bound: string;
  readonly seconds: number;
}

/** Records one row (file name = row id), so separate vitest workers never write the same file. */
export function recordFigures(id: string, f: Figures): void {
  mkdirSync(FIGURES_DIR, { recursive: true });
  writeFileSync(join(FIGURES_DIR, `${id}.json`), `${JSON.stringify({ ...f, node: process.version }, null, 2)}\n`);
  console.log(`reliability ${id}: ${JSON.stringify(f)}`);
}

export interface ProcStats {
  readonly rssBytes: number;
  /** Peak RSS of the process so far (VmHWM). */
  readonly peakRssBytes: number;
  readonly fds: number;
  readonly sockets: number;
}

/** File descriptors and memory of a process, straight from /proc (Linux). */
export function procStats(pid: number): ProcStats {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
  let fds = 0;
  let sockets = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    fds++;
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) sockets++;
    } catch {
      // closed between readdir and readlink
    }
  }
  return { rssBytes: kb('VmRSS'), peakRssBytes: kb('VmHWM'), fds, sockets };
}

export const MiB = 1024 * 1024;

/** A short-keep-alive client so no test socket outlives its test. */
export function newClient(): Agent {
  return new Agent({ keepAliveTimeout: 10, keepAliveMaxTimeout: 10, connections: 512 });
}

export interface ChildProxy {
  readonly shim: ChildShim;
  readonly pid: number;
  readonly url: string;
  readonly port: number;
  readonly admin: string;
  readonly dir: string;
  /** stdout + stderr so far, for leak greps. */
  output(): string;
  /** Unlabelled sample values from /metrics (e.g. `auth_shim_nodejs_active_handles_total`). */
  metrics(): Promise<Map<string, number>>;
  /** SIGTERM, wait for exit (SIGKILL after `boundMs`). */
  stop(boundMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface ChildOptions {
  readonly upstream: string;
  readonly env?: Record<string, string>;
  readonly nodeArgs?: string[];
  /** Files written to the temp directory first: name → content. */
  readonly files?: Record<string, string>;
}

/**
 * Starts the real `auth-shim proxy` process (dist/cli.js) with a LiteLLM key file, on 127.0.0.1:0.
 * `{dir}` in env values is the process's temp directory.
 */
export async function startChild(opts: ChildOptions): Promise<ChildProxy> {
  const dir = await mkdtemp(join(tmpdir(), 'auth-shim-rel-'));
  await writeFile(join(dir, 'litellm'), LITELLM_KEY);
  for (const [name, content] of Object.entries(opts.files ?? {})) await writeFile(join(dir, name), content);
  const env: Record<string, string> = {
    AUTH_SHIM_UPSTREAM_URL: opts.upstream,
    AUTH_SHIM_LISTEN: '127.0.0.1:0',
    AUTH_SHIM_ADMIN_LISTEN: '127.0.0.1:0',
    AUTH_SHIM_LITELLM_KEY_FILE: join(dir, 'litellm'),
    AUTH_SHIM_LOG_LEVEL: 'info',
    // As deployed: the injector caps the V8 heap at half the sidecar's memory limit (256Mi by
    // default, src/injector/sidecar.ts); V8 would otherwise size its heap from the machine.
    NODE_OPTIONS: '--max-old-space-size=128 --max-semi-space-size=4',
  };
  for (const [k, v] of Object.entries(opts.env ?? {})) env[k] = v.replaceAll('{dir}', dir);
  const shim = runCli(['proxy'], env, opts.nodeArgs ?? []);
  const started = await Promise.race([
    shim.listening,
    shim.exited.then(({ code }) => {
      throw new Error(`auth-shim proxy exited with ${code} before listening: ${shim.stderr.join('')}`);
    }),
  ]);
  const pid = shim.child.pid as number;
  const agent = newClient();
  return {
    shim,
    pid,
    url: started.url,
    port: Number(new URL(started.url).port),
    admin: started.admin,
    dir,
    output: () => `${shim.stdout.join('\n')}\n${shim.stderr.join('')}`,
    async metrics() {
      const text = await (await request(`${started.admin}/metrics`, { dispatcher: agent })).body.text();
      const out = new Map<string, number>();
      for (const line of text.split('\n')) {
        const m = /^([a-z_]+) (\S+)$/.exec(line);
        if (m !== null) out.set(m[1] as string, Number(m[2]));
      }
      return out;
    },
    async stop(boundMs = 30_000) {
      if (shim.child.exitCode === null && shim.child.signalCode === null) {
        shim.child.kill('SIGTERM');
        const timer = setTimeout(() => shim.child.kill('SIGKILL'), boundMs);
        const result = await shim.exited;
        clearTimeout(timer);
        await agent.close();
        await rm(dir, { recursive: true, force: true });
        return result;
      }
      await agent.close();
      await rm(dir, { recursive: true, force: true });
      return shim.exited;
    },
  };
}

/** Counts secrets from the test set found in any of the texts. */
export function secretLeaks(texts: readonly string[], extra: readonly string[] = []): string[] {
  const found: string[] = [];
  for (const t of texts)
    for (const s of [...SECRETS, ...extra]) if (t.includes(s)) found.push(`${s.slice(0, 16)}… in ${t.slice(0, 80)}`);
  return found;
}

/** Polls until `check` holds or the bound passes (for asynchronous effects, not timing). */
export async function until(check: () => boolean | Promise<boolean>, boundMs: number, what: string): Promise<void> {
  const deadline = Date.now() + boundMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${boundMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function openSocket(port: number): Promise<Socket> {
  const sock = connect(port, '127.0.0.1');
  await once(sock, 'connect');
  return sock;
}

/**
 * Writes raw bytes, then collects everything the server sends until it closes the connection,
 * `done(text)` says enough, or `idleMs` pass without data. Latin-1 keeps bytes one-to-one.
 */
export async function rawExchange(
  port: number,
  bytes: string | Buffer,
  opts: { idleMs?: number; done?: (text: string) => boolean } = {},
): Promise<{ text: string; closed: boolean }> {
  const sock = await openSocket(port);
  return new Promise((resolve) => {
    let text = '';
    let closed = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ text, closed });
    };
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(finish, opts.idleMs ?? 1_000);
    };
    sock.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      if (opts.done?.(text) === true) finish();
      else arm();
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      closed = true;
      finish();
    });
    sock.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
    arm();
  });
}

export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** Splits a byte stream of HTTP/1.1 responses (Content-Length framed or up to the end). */
export function parseResponses(text: string): RawResponse[] {
  const out: RawResponse[] = [];
  let rest = text;
  while (rest.startsWith('HTTP/1.1 ')) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const lines = rest.slice(0, end).split('\r\n');
    const status = Number((lines[0] as string).split(' ')[1]);
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
    }
    rest = rest.slice(end + 4);
    if (status === 100) continue;
    const len = headers['content-length'];
    const n = len === undefined ? rest.length : Number(len);
    out.push({ status, headers, body: rest.slice(0, n) });
    rest = rest.slice(n);
  }
  return out;
}

/** A raw TCP "upstream" on loopback: the test decides what bytes (if any) come back. */
export interface RawUpstream {
  readonly server: NetServer;
  readonly port: number;
  readonly url: string;
  /** Sockets accepted so far. */
  readonly accepted: Socket[];
  close(): Promise<void>;
}

export async function startRawUpstream(onRequest: (sock: Socket, head: string) => void): Promise<RawUpstream> {
  const accepted: Socket[] = [];
  const server = createNetServer((sock) => {
    accepted.push(sock);
    sock.on('error', () => undefined);
    let head = '';
    const onData = (c: Buffer): void => {
      head += c.toString('latin1');
      if (head.includes('\r\n\r\n')) {
        sock.off('data', onData);
        onRequest(sock, head);
      }
    };
    sock.on('data', onData);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  return {
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    accepted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of accepted) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** An Anthropic-shaped error body as the shim makes it. */
export interface AnthropicError {
  readonly type: string;
  readonly error: { readonly type: string; readonly message: string };
}

export function isAnthropicError(body: string): boolean {
  try {
    const j = JSON.parse(body) as Partial<AnthropicError>;
    return j.type === 'error' && typeof j.error?.type === 'string' && typeof j.error.message === 'string';
  } catch {
    return false;
  }
}

/** Request bytes for a Claude-Code-shaped POST; `extra` are raw header lines. */
export function postBytes(path: string, body: string, credential: string, extra: string[] = []): string {
  return [
    `POST ${path} HTTP/1.1`,
    'host: 127.0.0.1',
    `x-api-key: ${credential}`,
    'content-type: application/json',
    `content-length: ${Buffer.byteLength(body)}`,
    ...extra,
    '',
    body,
  ].join('\r\n');
}

export function pct(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * (sorted.length - 1)))] ?? 0;
}
