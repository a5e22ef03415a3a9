import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeAnthropic, type FakeAnthropic } from '../../../src/demo/fake-anthropic.js';
import { mutate } from '../../../src/injector/mutate.js';
import { SIDECAR_NAME } from '../../../src/injector/sidecar.js';
import { runCli, type ChildShim } from '../../helpers/child.js';
import { entrypointNodeFlags } from '../../helpers/dockerfile.js';
import { eventually, LITELLM_KEY, OAUTH } from '../../helpers/shim.js';
import { goldenConfig } from '../../injector/_helpers.js';

/**
 * Issue 15, item 1: `SIGUSR1` makes Node open its unauthenticated inspector on 127.0.0.1:9229.
 * Every container of a pod shares that loopback, and with `shareProcessNamespace: true` any of
 * them can send the signal — then evaluate code in the sidecar and read its credentials. The
 * sidecar is started here exactly as the injector and the image start it (the Dockerfile's
 * ENTRYPOINT flags, the injected environment), signalled, and must open no listener and keep
 * serving. A process started as before the fix is the control: its inspector must open, so the
 * check can fail.
 */

let fake: FakeAnthropic;
let dir: string;
const children: ChildShim[] = [];
const client = new Agent({ keepAliveTimeout: 10, keepAliveMaxTimeout: 10 });

/** The environment the injector gives the sidecar of an annotated pod, files pointed at `dir`. */
function injectedEnv(): Record<string, string> {
  const m = mutate({
    pod: {
      metadata: { annotations: { 'auth-shim.io/inject': 'true' } },
      spec: { containers: [{ name: 'agent', image: 'a' }] },
    },
    namespace: 'ai',
    namespaceOptedIn: false,
    config: goldenConfig(),
  });
  if (m.outcome !== 'injected') throw new Error(`not injected: ${JSON.stringify(m)}`);
  const spec = m.pod['spec'] as {
    initContainers: Array<{ name: string; env: Array<{ name: string; value: string }> }>;
  };
  const sidecar = spec.initContainers.find((c) => c.name === SIDECAR_NAME);
  const env = Object.fromEntries((sidecar?.env ?? []).map((e) => [e.name, e.value]));
  return {
    ...env,
    AUTH_SHIM_UPSTREAM_URL: fake.url,
    AUTH_SHIM_LISTEN: '127.0.0.1:0',
    AUTH_SHIM_ADMIN_LISTEN: '127.0.0.1:0',
    AUTH_SHIM_OAUTH_TOKEN_FILE: join(dir, 'oauth'),
    AUTH_SHIM_LITELLM_KEY_FILE: join(dir, 'litellm'),
  };
}

/** TCP ports the process itself listens on: its socket inodes matched against /proc/net/tcp{,6}. */
function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m?.[1] !== undefined) inodes.add(m[1]);
    } catch {
      // the fd closed while listing
    }
  }
  const ports: number[] = [];
  for (const table of ['tcp', 'tcp6']) {
    for (const row of readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1)) {
      const f = row.trim().split(/\s+/);
      // st 0A = LISTEN; local address is hex ip:port; inode is the tenth column.
      if (f[3] === '0A' && f[9] !== undefined && inodes.has(f[9]))
        ports.push(Number.parseInt(f[1]?.split(':')[1] ?? '', 16));
    }
  }
  return ports.sort((a, b) => a - b);
}

function start(nodeFlags: string[], env: Record<string, string>): ChildShim {
  const c = runCli(['proxy'], env, nodeFlags);
  children.push(c);
  return c;
}

async function serves(url: string): Promise<number> {
  const res = await request(`${url}/v1/messages`, {
    method: 'POST',
    body: '{}',
    headers: { 'content-type': 'application/json' },
    dispatcher: client,
  });
  await res.body.dump();
  return res.statusCode;
}

beforeAll(async () => {
  fake = await startFakeAnthropic();
  dir = await mkdtemp(join(tmpdir(), 'auth-shim-sigusr1-'));
  await writeFile(join(dir, 'oauth'), OAUTH);
  await writeFile(join(dir, 'litellm'), LITELLM_KEY);
});

afterAll(async () => {
  for (const c of children) c.child.kill('SIGKILL');
  await client.close();
  await fake.close();
  await rm(dir, { recursive: true, force: true });
});

const INSPECTOR = /Debugger listening|Starting inspector on/;

describe('regression: SIGUSR1 opens no debugger in the sidecar', () => {
  it('the image ENTRYPOINT and the injected NODE_OPTIONS both carry --disable-sigusr1', () => {
    expect(entrypointNodeFlags()).toContain('--disable-sigusr1');
    expect(injectedEnv()['NODE_OPTIONS']?.split(' ')).toContain('--disable-sigusr1');
  });

  it('started as injected (ENTRYPOINT flags + env), the image alone, the env alone: no listener, serving', async () => {
    const injected = injectedEnv();
    const { NODE_OPTIONS: _omitted, ...withoutOptions } = injected;
    const before = {
      ...withoutOptions,
      NODE_OPTIONS: (injected['NODE_OPTIONS'] ?? '').replace('--disable-sigusr1', '').trim(),
    };
    const oldFlags = entrypointNodeFlags().filter((f) => f !== '--disable-sigusr1');

    // The control: the ENTRYPOINT and NODE_OPTIONS as they were before issue 15.
    const control = start(oldFlags, before);
    const hardened = [
      start(entrypointNodeFlags(), injected),
      start(entrypointNodeFlags(), withoutOptions),
      start(oldFlags, injected),
    ];
    const addresses = await Promise.all(hardened.map((c) => c.listening));
    await control.listening;
    for (const c of [control, ...hardened]) c.child.kill('SIGUSR1');

    // Once the control has reacted, the hardened ones have had the same signal for as long.
    await eventually(() => INSPECTOR.test(control.stderr.join('')), 10_000);
    control.child.kill('SIGKILL');

    for (const [i, c] of hardened.entries()) {
      const { url, admin } = addresses[i] as { url: string; admin: string };
      expect(c.stderr.join(''), `variant ${i}`).not.toMatch(INSPECTOR);
      expect(c.child.exitCode, `variant ${i}`).toBeNull();
      expect(await serves(url), `variant ${i}`).toBe(200);
      const own = [new URL(url).port, new URL(admin).port].map(Number).sort((a, b) => a - b);
      expect(listeningPorts(c.child.pid as number), `variant ${i}`).toEqual(own);
      expect(listeningPorts(c.child.pid as number)).not.toContain(9229);
    }
    expect(fake.requests.at(-1)?.headers['authorization']).toEqual([`Bearer ${OAUTH}`]);
  }, 60_000);
});
