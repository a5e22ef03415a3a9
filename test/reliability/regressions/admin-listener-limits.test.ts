import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { ADMIN_LIMITS } from '../../../src/server/admin.js';
import { startFakeAnthropic, type FakeAnthropic } from '../../../src/demo/fake-anthropic.js';
import { MiB, procStats, recordFigures, startChild, until } from '../_harness.js';

/**
 * Issue 15, item 2: the admin listener binds the pod IP and had no limits — 15,000 connections with
 * half-sent headers raised the sidecar's RSS from 79 to 214 MiB for ~90 s. Now it holds at most
 * AUTH_SHIM_ADMIN_MAX_CONNECTIONS connections, gives headers 5 s, and frees the slots for probes.
 * Bounded: N connections, loopback only, the real process with the 256Mi sidecar's V8 flags.
 */
const N = 3_000;
const CAP = 64;
const HALF_SENT = `GET /metrics HTTP/1.1\r\nhost: x\r\nx-pad: ${'a'.repeat(4_000)}`;

const sockets: Socket[] = [];
let fake: FakeAnthropic | undefined;
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await fake?.close();
  fake = undefined;
});

describe('regression: admin listener limits', () => {
  it(`${N} half-sent-header connections: the cap held, closed on headers timeout, RSS bounded, probes answer`, {
    timeout: 120_000,
  }, async () => {
    const t0 = Date.now();
    fake = await startFakeAnthropic();
    const proxy = await startChild({ upstream: fake.url, env: { AUTH_SHIM_ADMIN_MAX_CONNECTIONS: String(CAP) } });
    const port = Number(new URL(proxy.admin).port);
    try {
      const before = procStats(proxy.pid);
      let closed = 0;
      for (let i = 0; i < N; i += 200) {
        await Promise.all(
          Array.from({ length: Math.min(200, N - i) }, async () => {
            const sock = connect(port, '127.0.0.1');
            sockets.push(sock);
            sock.on('error', () => undefined);
            sock.on('close', () => closed++);
            await once(sock, 'connect').catch(() => undefined);
            if (!sock.destroyed) sock.write(HALF_SENT);
          }),
        );
      }
      await until(() => closed >= N - CAP, 30_000, 'connections over the cap are closed').catch(() => undefined);
      const during = procStats(proxy.pid);
      console.log(
        `admin listener: RSS ${Math.round(before.rssBytes / MiB)} → ${Math.round(during.rssBytes / MiB)} MiB ` +
          `(peak ${Math.round(during.peakRssBytes / MiB)}) with ${N} half-sent connections, ` +
          `${during.sockets} sockets held, ${closed} closed`,
      );
      expect(closed).toBeGreaterThanOrEqual(N - CAP);
      // The cap, plus the agent-facing listener, the admin listener, stdio and its own sockets.
      expect(during.sockets).toBeLessThanOrEqual(CAP + 16);
      await until(
        () => closed === N,
        ADMIN_LIMITS.headersTimeoutMs * 4,
        'half-sent connections closed by the headers timeout',
      );
      const res = await request(`${proxy.admin}/healthz`);
      expect(res.statusCode).toBe(200);
      await res.body.text();
      recordFigures('15-2-admin-limits', {
        item: `15.2 Admin listener: ${N} half-sent-header connections`,
        requests: 1,
        faults: N,
        failures: 0,
        leaks: 0,
        peakRssBytes: during.peakRssBytes,
        bound: `at most ${CAP} held; all closed within 4× the ${ADMIN_LIMITS.headersTimeoutMs} ms headers timeout`,
        seconds: Math.round((Date.now() - t0) / 1000),
      });
    } finally {
      for (const s of sockets.splice(0)) s.destroy();
      await proxy.stop();
    }
  });
});
