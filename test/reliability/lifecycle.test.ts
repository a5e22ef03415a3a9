import { connect } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { request, type Agent } from 'undici';
import { sseEvents, startFakeAnthropic, type FakeAnthropic } from '../../src/demo/fake-anthropic.js';
import { writeKubeletSecret } from '../helpers/kubelet-dir.js';
import { LITELLM_KEY, OAUTH } from '../helpers/shim.js';
import { newClient, procStats, recordFigures, secretLeaks, startChild, until, type ChildProxy } from './_harness.js';

/**
 * Item 4 — lifecycle of the real process: SIGTERM while 50 streams are open and credentials
 * rotate under load (kubelet-style Secret volume), then a second SIGTERM that must force the exit.
 */

const STREAMS = 50;
const DRAIN_BUDGET_MS = 10_000; // AUTH_SHIM_DRAIN_TIMEOUT_MS of the process under test
const ROTATIONS = 20;
const LOOPS = 4; // concurrent request loops during the rotations

const token = (k: number) => `${OAUTH}-gen${k}`;
const key = (k: number) => `${LITELLM_KEY}-gen${k}`;
const events = sseEvents(
  'claude-sonnet-4-5',
  Array.from({ length: 10 }, (_, i) => `word${i} `),
);

const figures = { requests: 0, faults: 0, failures: [] as string[], leaks: 0, peakRss: 0 };
const started = Date.now();
afterAll(() => {
  recordFigures('4-lifecycle', {
    item: '4. Lifecycle (SIGTERM during 50 streams + rotation under load; second SIGTERM)',
    requests: figures.requests,
    faults: figures.faults,
    failures: figures.failures.length,
    leaks: figures.leaks,
    peakRssBytes: figures.peakRss,
    bound:
      `${STREAMS} streams complete within the ${DRAIN_BUDGET_MS} ms drain budget; ` +
      `${ROTATIONS} rotations under ${LOOPS} request loops`,
    seconds: Math.round((Date.now() - started) / 1000),
  });
});

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.on('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.on('error', () => resolve(true));
  });
}

/** Opens a stream and reads it to the end: the full text, or the error that cut it. */
function openStream(
  client: Agent,
  url: string,
): { firstByte: Promise<void>; done: Promise<{ text: string; error?: string }> } {
  let onFirst: () => void = () => undefined;
  const firstByte = new Promise<void>((r) => (onFirst = r));
  const done = (async () => {
    let text = '';
    try {
      const res = await request(`${url}/v1/messages?beta=true`, {
        method: 'POST',
        headers: { 'x-api-key': 'placeholder' },
        body: '{"stream":true}',
        dispatcher: client,
      });
      for await (const c of res.body) {
        text += (c as Buffer).toString('utf8');
        onFirst();
      }
      return { text };
    } catch (err) {
      onFirst();
      return { text, error: String(err) };
    }
  })();
  return { firstByte, done };
}

async function gatedUpstream(): Promise<{ fake: FakeAnthropic; release: () => void }> {
  const fake = await startFakeAnthropic();
  let release: () => void = () => undefined;
  const released = new Promise<void>((r) => (release = r));
  fake.respond = async (req, res) => {
    if (req.body.toString() === '{"stream":true}') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'request-id': 'req_stream' });
      res.write(events[0]);
      await released; // the rest only once SIGTERM has been delivered
      for (const e of events.slice(1)) {
        if (res.destroyed) return;
        res.write(e);
        await new Promise((r) => setTimeout(r, 20));
      }
      res.end();
    } else {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '2' }).end('{}');
    }
  };
  return { fake, release };
}

describe('item 4: lifecycle (real process)', () => {
  it(`SIGTERM during ${STREAMS} streams + rotation under load: all complete, new ones refused, exit 0`, async () => {
    const secretDir = await mkdtemp(join(tmpdir(), 'auth-shim-rel-secret-'));
    await writeKubeletSecret(secretDir, { token: `${token(0)}\n`, litellm: key(0) });
    const { fake, release } = await gatedUpstream();
    const proxy: ChildProxy = await startChild({
      upstream: fake.url,
      env: {
        AUTH_SHIM_CREDENTIAL_SOURCE: 'shim-only',
        AUTH_SHIM_OAUTH_TOKEN_FILE: `${secretDir}/token`,
        AUTH_SHIM_LITELLM_KEY_FILE: `${secretDir}/litellm`,
        AUTH_SHIM_DRAIN_TIMEOUT_MS: String(DRAIN_BUDGET_MS),
      },
    });
    const client = newClient();
    const streams = Array.from({ length: STREAMS }, () => openStream(client, proxy.url));
    await Promise.all(streams.map((s) => s.firstByte));

    // Load: request loops while the Secret rotates.
    let phase: 'load' | 'draining' = 'load';
    const failures: string[] = [];
    let afterSigterm = { served: 0, refused: 0 };
    const loops = Array.from({ length: LOOPS }, async () => {
      const loopClient = newClient();
      while (true) {
        const p = phase;
        try {
          const res = await request(`${proxy.url}/v1/messages`, {
            method: 'POST',
            headers: { 'x-api-key': 'placeholder' },
            body: '{}',
            dispatcher: loopClient,
          });
          await res.body.text();
          figures.requests++;
          if (res.statusCode !== 200) failures.push(`status ${res.statusCode} during ${p}`);
          if (p === 'draining') afterSigterm.served++;
        } catch (err) {
          // Once draining, a refused or closed connection is the expected answer: stop this loop.
          if (p === 'draining') {
            afterSigterm.refused++;
            break;
          }
          failures.push(`request failed during load: ${String(err)}`);
        }
        if (p === 'draining' && afterSigterm.served > 200) break;
      }
      await loopClient.close();
    });
    for (let k = 1; k <= ROTATIONS; k++) {
      await writeKubeletSecret(secretDir, { token: `${token(k)}\n`, litellm: key(k) });
      const before = fake.requests.length;
      await until(
        () => fake.requests.slice(before).some((r) => r.headers['authorization']?.[0] === `Bearer ${token(k)}`),
        5_000,
        `rotation ${k} in use`,
      );
    }
    figures.faults += ROTATIONS;

    // SIGTERM while the streams are open and the loops keep sending.
    figures.peakRss = Math.max(figures.peakRss, procStats(proxy.pid).peakRssBytes);
    const sigterm = Date.now();
    proxy.shim.child.kill('SIGTERM');
    phase = 'draining';
    await until(async () => refused(proxy.port), 5_000, 'new connections refused');
    release();
    const results = await Promise.all(streams.map((s) => s.done));
    const exit = await proxy.shim.exited;
    const drainedAfterMs = Date.now() - sigterm;
    await Promise.all(loops);
    figures.requests += STREAMS;
    figures.faults += 1;

    const problems = [...failures];
    for (const [i, r] of results.entries()) {
      if (r.error !== undefined || r.text !== events.join(''))
        problems.push(`stream ${i}: ${r.error ?? 'bytes differ'}`);
    }
    if (exit.code !== 0) problems.push(`exit ${exit.code}`);
    if (!proxy.shim.stdout.some((l) => l.includes('"event":"stopped"') && l.includes('"abandoned":0')))
      problems.push('not drained');
    if (drainedAfterMs > DRAIN_BUDGET_MS + 2_000) problems.push(`exit after ${drainedAfterMs} ms`);
    // One snapshot per request: never a token of one generation with a key of another.
    for (const r of fake.requests) {
      const t = /-gen(\d+)$/.exec(r.headers['authorization']?.[0] ?? '')?.[1];
      const l = /-gen(\d+)$/.exec(r.headers['x-litellm-api-key']?.[0] ?? '')?.[1];
      if (t === undefined || t !== l) problems.push(`mixed credentials: token gen ${t}, key gen ${l}`);
    }
    const secrets = Array.from({ length: ROTATIONS + 1 }, (_, k) => [token(k), key(k)]).flat();
    const leaks = secretLeaks([proxy.output()], secrets);
    figures.leaks += leaks.length;
    figures.failures.push(...problems);
    console.log(
      `lifecycle: ${fake.requests.length} upstream requests, ${ROTATIONS} rotations, ` +
        `drained in ${drainedAfterMs} ms; ` +
        `after SIGTERM ${afterSigterm.served} served on open connections, ${afterSigterm.refused} loops refused`,
    );
    afterSigterm = { served: 0, refused: 0 };
    await client.close();
    await proxy.stop();
    await fake.close();
    await rm(secretDir, { recursive: true, force: true });
    expect(problems).toEqual([]);
    expect(leaks).toEqual([]);
  }, 60_000);

  it(`a second SIGTERM forces the exit (code 1) with ${STREAMS} streams still open`, async () => {
    const { fake } = await gatedUpstream(); // never released: the streams stay open
    const proxy = await startChild({
      upstream: fake.url,
      env: {
        AUTH_SHIM_DRAIN_TIMEOUT_MS: '60000',
        AUTH_SHIM_OAUTH_TOKEN_FILE: '{dir}/oauth',
        AUTH_SHIM_CREDENTIAL_SOURCE: 'shim-only',
      },
      files: { oauth: OAUTH },
    });
    const client = newClient();
    const streams = Array.from({ length: STREAMS }, () => openStream(client, proxy.url));
    await Promise.all(streams.map((s) => s.firstByte));
    figures.peakRss = Math.max(figures.peakRss, procStats(proxy.pid).peakRssBytes);
    proxy.shim.child.kill('SIGTERM');
    await until(() => proxy.shim.stdout.some((l) => l.includes('"event":"draining"')), 5_000, 'draining');
    proxy.shim.child.kill('SIGTERM');
    const exit = await proxy.shim.exited;
    const results = await Promise.all(streams.map((s) => s.done));
    figures.requests += STREAMS;
    figures.faults += 2;
    const problems: string[] = [];
    if (exit.code !== 1) problems.push(`exit ${exit.code}`);
    // Cut streams fail visibly on the client; none looks complete.
    for (const r of results)
      if (r.error === undefined || r.text.includes('message_stop')) problems.push('a cut stream looked complete');
    figures.failures.push(...problems);
    await client.close();
    await proxy.stop();
    await fake.close();
    expect(problems).toEqual([]);
  }, 30_000);
});
