import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { INJECTOR_OPTIONS } from '../../src/injector/config.js';
import { nodeOptions } from '../../src/injector/sidecar.js';
import { freePort } from '../../test/e2e/_peers.js';
import { spawnOwned, stopChild, waitReady } from './proc.js';

export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

export interface Shim {
  readonly url: string;
  readonly adminUrl: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** spawn → `/readyz` 200, ms. */
  readonly readyMs: number;
  stop(): Promise<void>;
}

export interface ShimOptions {
  readonly upstreamUrl: string;
  readonly litellmKeyFile: string;
  /** V8/Node flags placed before the script, as an image ENTRYPOINT would. */
  readonly nodeFlags: readonly string[];
  readonly logFile: string;
  readonly upstreamConnections: number;
  /** Apply the injector's NODE_OPTIONS (heap cap for the default limit); default true. */
  readonly injectedNodeOptions?: boolean;
  /** Another build of the CLI (A/B comparisons of a change); `dist/cli.js` by default. */
  readonly cli?: string;
}

/**
 * Starts the real sidecar, `node dist/cli.js proxy`, with the defaults an injected pod gets except
 * loopback ports for both listeners. Logs (one JSON line per request, the default `info` level)
 * go to a file, as a container runtime would take them; NODE_OPTIONS is the injector's, never inherited.
 */
export async function startShim(o: ShimOptions): Promise<Shim> {
  const [port, admin] = [await freePort(), await freePort()];
  const log = openSync(o.logFile, 'a');
  const args = [
    ...o.nodeFlags,
    o.cli ?? CLI,
    'proxy',
    '--upstream-url',
    o.upstreamUrl,
    '--listen',
    `127.0.0.1:${port}`,
    '--admin-listen',
    `127.0.0.1:${admin}`,
    '--litellm-key-file',
    o.litellmKeyFile,
    '--upstream-connections',
    String(o.upstreamConnections),
  ];
  const t0 = performance.now();
  // Run as an injected pod runs it: the NODE_OPTIONS the injector derives from the default memory limit.
  const injected = nodeOptions(INJECTOR_OPTIONS.memoryLimit.default);
  const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: process.env['HOME'] ?? '/tmp' };
  if (o.injectedNodeOptions ?? true) env['NODE_OPTIONS'] = injected;
  const child = spawnOwned(process.execPath, args, { stdio: ['ignore', log, log], env });
  closeSync(log);
  const adminUrl = `http://127.0.0.1:${admin}`;
  const readyMs = await waitReady(`${adminUrl}/readyz`, t0, { child, what: 'auth-shim proxy', timeoutMs: 15_000 });
  return {
    url: `http://127.0.0.1:${port}`,
    adminUrl,
    child,
    pid: child.pid as number,
    readyMs,
    stop: () => stopChild(child),
  };
}
