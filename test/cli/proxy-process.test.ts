import { connect } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { sseEvents, startFakeAnthropic, type FakeAnthropic } from '../../src/demo/fake-anthropic.js';
import { runCli, type ChildShim } from '../helpers/child.js';
import { LITELLM_KEY, OAUTH, SECRETS } from '../helpers/shim.js';

let fake: FakeAnthropic | undefined;
let shim: ChildShim | undefined;
afterEach(async () => {
  if (shim !== undefined && shim.child.exitCode === null) shim.child.kill('SIGKILL');
  await fake?.close();
  fake = undefined;
  shim = undefined;
});

function env(upstream: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    AUTH_SHIM_UPSTREAM_URL: upstream,
    AUTH_SHIM_LISTEN: '127.0.0.1:0',
    AUTH_SHIM_ADMIN_LISTEN: '127.0.0.1:0',
    ...extra,
  };
}

function refused(url: string): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const s = connect(Number(u.port), u.hostname);
    s.on('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.on('error', () => resolve(true));
  });
}

describe('auth-shim proxy as a process', () => {
  it('bad configuration: every problem on stderr, exit 2, never listens', async () => {
    shim = runCli(['proxy', '--bogus=1'], {
      AUTH_SHIM_UPSTREAM_URL: 'litellm:4000',
      AUTH_SHIM_LISTEN: '0.0.0.0:8787',
      AUTH_SHIM_CREDENTIAL_SOURCE: 'maybe',
    });
    const { code } = await shim.exited;
    expect(code).toBe(2);
    const err = shim.stderr.join('');
    expect(err).toContain('invalid configuration:');
    expect(err).toContain('unknown flag --bogus');
    expect(err).toContain('AUTH_SHIM_UPSTREAM_URL must be an http(s) URL, got "litellm:4000"');
    expect(err).toContain('AUTH_SHIM_LISTEN must be a loopback address');
    expect(err).toContain('AUTH_SHIM_CREDENTIAL_SOURCE must be one of');
    expect(shim.stdout.some((l) => l.includes('"event":"listening"'))).toBe(false);
  });

  it('--help lists every option; an unknown command exits 2 with usage', async () => {
    const help = runCli(['proxy', '--help']);
    expect((await help.exited).code).toBe(0);
    expect(help.stdout.join('\n')).toContain('--upstream-url');
    const bad = runCli(['frobnicate']);
    expect((await bad.exited).code).toBe(2);
    expect(bad.stderr.join('')).toContain('usage: auth-shim <command>');
  });

  it('SIGTERM: not ready, no new connections, the open stream completes, exit 0', async () => {
    fake = await startFakeAnthropic();
    const events = sseEvents('m', ['a', 'b', 'c', 'd', 'e', 'f']);
    let release: () => void = () => undefined;
    const released = new Promise<void>((r) => (release = r));
    fake.respond = async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(events[0]);
      await released; // the rest only after SIGTERM has been handled
      for (const e of events.slice(1)) res.write(e);
      res.end();
    };
    shim = runCli(['proxy'], env(fake.url));
    const { url, admin } = await shim.listening;
    expect((await request(`${admin}/readyz`)).statusCode).toBe(200);

    const res = await request(`${url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': OAUTH },
      body: '{"stream":true}',
    });
    const body: string[] = [];
    const reading = (async () => {
      for await (const c of res.body) body.push((c as Buffer).toString('utf8'));
    })();
    await new Promise<void>((r) => {
      const t = setInterval(() => body.length > 0 && (clearInterval(t), r()), 5);
    });

    shim.child.kill('SIGTERM');
    const deadline = Date.now() + 5000;
    while (
      (await request(`${admin}/readyz`).then(
        (r) => r.statusCode,
        () => 0,
      )) === 200 &&
      Date.now() < deadline
    )
      await new Promise((r) => setTimeout(r, 10));
    expect(await request(`${admin}/readyz`).then((r) => r.statusCode)).toBe(503);
    expect(await refused(url)).toBe(true);

    release();
    await reading;
    expect(body.join('')).toBe(events.join(''));
    expect((await shim.exited).code).toBe(0);
    expect(shim.stdout.some((l) => l.includes('"event":"stopped"') && l.includes('"drained":true'))).toBe(true);
  });

  it('a second SIGTERM exits at once with code 1', async () => {
    fake = await startFakeAnthropic();
    fake.respond = (_req, res) => void res.writeHead(200, { 'content-type': 'text/event-stream' }).write(': open\n\n');
    shim = runCli(['proxy'], env(fake.url, { AUTH_SHIM_DRAIN_TIMEOUT_MS: '60000' }));
    const { url } = await shim.listening;
    const res = await request(`${url}/v1/messages`, { method: 'POST', headers: { 'x-api-key': OAUTH }, body: '{}' });
    res.body.on('error', () => undefined);
    shim.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    shim.child.kill('SIGTERM');
    expect((await shim.exited).code).toBe(1);
  });

  it('a stream still open at AUTH_SHIM_DRAIN_TIMEOUT_MS is cut and the process exits 0', async () => {
    fake = await startFakeAnthropic();
    fake.respond = (_req, res) => void res.writeHead(200, { 'content-type': 'text/event-stream' }).write(': open\n\n');
    shim = runCli(['proxy'], env(fake.url, { AUTH_SHIM_DRAIN_TIMEOUT_MS: '300' }));
    const { url } = await shim.listening;
    const res = await request(`${url}/v1/messages`, { method: 'POST', headers: { 'x-api-key': OAUTH }, body: '{}' });
    res.body.on('error', () => undefined);
    shim.child.kill('SIGTERM');
    expect((await shim.exited).code).toBe(0);
    expect(shim.stdout.some((l) => l.includes('"event":"stopped"') && l.includes('"abandoned":1'))).toBe(true);
  });

  it('no secret in any log line of a real process (success and failure paths)', async () => {
    fake = await startFakeAnthropic();
    const dir = await mkdtemp(join(tmpdir(), 'auth-shim-cli-'));
    await writeFile(join(dir, 'k'), LITELLM_KEY);
    shim = runCli(
      ['proxy'],
      env(fake.url, {
        AUTH_SHIM_LITELLM_KEY_FILE: join(dir, 'k'),
        AUTH_SHIM_LOG_LEVEL: 'trace',
        AUTH_SHIM_ALLOWED_CREDENTIALS: 'oauth',
      }),
    );
    const { url } = await shim.listening;
    for (const headers of [
      { 'x-api-key': OAUTH },
      { authorization: `Bearer ${OAUTH}` },
      { 'x-api-key': SECRETS[2] as string },
      { 'x-litellm-api-key': LITELLM_KEY },
    ]) {
      await (await request(`${url}/v1/messages`, { method: 'POST', headers, body: '{}' })).body.text();
      await (await request(`${url}/key/generate`, { method: 'POST', headers, body: '{}' })).body.text();
    }
    shim.child.kill('SIGTERM');
    await shim.exited;
    await rm(dir, { recursive: true, force: true });
    const all = shim.stdout.join('\n') + shim.stderr.join('');
    expect(shim.stdout.filter((l) => l.includes('"event":"request"'))).toHaveLength(8);
    for (const s of SECRETS) expect(all).not.toContain(s);
  });
});
