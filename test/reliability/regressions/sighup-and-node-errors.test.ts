import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { sseEvents, startFakeAnthropic, type FakeAnthropic } from '../../../src/demo/fake-anthropic.js';
import { API_KEY, startShim, type Shim } from '../../helpers/shim.js';
import { newClient, rawExchange, startChild } from '../_harness.js';

/**
 * Issue 15, item 8. SIGHUP (Node's default: die at once) reset 10 of 10 open streams; it now drains
 * like SIGTERM. And node:http's own 400 (HTTP/1.1 without `Host`) and 417 (an unknown `Expect`)
 * were empty bodies without `x-auth-shim-error`; they are now Anthropic-shaped like every other
 * error the shim makes.
 */
const STREAMS = 10;
const events = sseEvents(
  'claude-sonnet-4-5',
  Array.from({ length: 5 }, (_, i) => `word${i} `),
);

let shim: Shim | undefined;
let fake: FakeAnthropic | undefined;
afterEach(async () => {
  await shim?.close();
  shim = undefined;
  await fake?.close();
  fake = undefined;
});

describe('regression: SIGHUP drains', () => {
  it(`SIGHUP with ${STREAMS} open streams: every stream completes, exit 0`, async () => {
    fake = await startFakeAnthropic();
    let release: () => void = () => undefined;
    const released = new Promise<void>((r) => (release = r));
    fake.respond = async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(events[0]);
      await released;
      for (const e of events.slice(1)) res.write(e);
      res.end();
    };
    const proxy = await startChild({ upstream: fake.url, env: { AUTH_SHIM_DRAIN_TIMEOUT_MS: '20000' } });
    const client = newClient();
    try {
      let firstBytes = 0;
      let onAll: () => void = () => undefined;
      const allStarted = new Promise<void>((r) => (onAll = r));
      const streams = Array.from({ length: STREAMS }, async () => {
        let text = '';
        try {
          const res = await request(`${proxy.url}/v1/messages?beta=true`, {
            method: 'POST',
            headers: { 'x-api-key': API_KEY },
            body: '{"stream":true}',
            dispatcher: client,
          });
          let first = true;
          for await (const c of res.body) {
            text += (c as Buffer).toString('utf8');
            if (first && ++firstBytes === STREAMS) onAll();
            first = false;
          }
          return text;
        } catch (err) {
          onAll();
          return `${text}ERROR ${String(err)}`;
        }
      });
      await allStarted;
      proxy.shim.child.kill('SIGHUP');
      // Release only once the process has begun draining, so the streams are open across it.
      const deadline = Date.now() + 10_000;
      while (
        !proxy.output().includes('"event":"draining"') &&
        proxy.shim.child.exitCode === null &&
        proxy.shim.child.signalCode === null &&
        Date.now() < deadline
      ) {
        await new Promise((r) => setTimeout(r, 20));
      }
      release();
      const texts = await Promise.all(streams);
      expect(texts.filter((t) => t !== events.join(''))).toEqual([]);
      const exit = await proxy.shim.exited;
      expect(exit).toMatchObject({ code: 0 });
      expect(proxy.output()).toMatch(/"event":"draining","signal":"SIGHUP"/);
    } finally {
      release();
      await client.close();
      await proxy.stop();
    }
  });
});

describe("regression: node:http's own errors are Anthropic-shaped", () => {
  const port = (s: Shim): number => Number(new URL(s.proxy.url).port);
  const parse = (text: string) => {
    const [head = '', body = ''] = text.split('\r\n\r\n');
    return { status: Number(head.slice(9, 12)), head: head.toLowerCase(), body: JSON.parse(body) as unknown };
  };

  it('HTTP/1.1 without Host: 400 invalid_request_error with x-auth-shim-error, nothing forwarded', async () => {
    shim = await startShim();
    const r = parse((await rawExchange(port(shim), `GET /v1/models HTTP/1.1\r\nx-api-key: ${API_KEY}\r\n\r\n`)).text);
    expect(r.status).toBe(400);
    expect(r.head).toContain('x-auth-shim-error: client_error');
    expect(r.head).toContain('x-should-retry: false');
    expect(r.body).toMatchObject({
      type: 'error',
      error: { type: 'invalid_request_error', message: expect.stringContaining('Host') },
    });
    expect(shim.fake.requests).toHaveLength(0);
  });

  it('an unknown Expect: 417 invalid_request_error with x-auth-shim-error, nothing forwarded', async () => {
    shim = await startShim();
    const r = parse(
      (
        await rawExchange(
          port(shim),
          `POST /v1/messages HTTP/1.1\r\nhost: x\r\nexpect: teapot\r\nx-api-key: ${API_KEY}\r\n` +
            'content-length: 2\r\n\r\n{}',
        )
      ).text,
    );
    expect(r.status).toBe(417);
    expect(r.head).toContain('x-auth-shim-error: client_error');
    expect(r.body).toMatchObject({
      type: 'error',
      error: { type: 'invalid_request_error', message: expect.stringContaining('teapot') },
    });
    expect(shim.fake.requests).toHaveLength(0);
  });

  it('HTTP/1.0 without Host is still served (Host is required of HTTP/1.1 only)', async () => {
    shim = await startShim();
    const r = await rawExchange(port(shim), `GET /v1/models HTTP/1.0\r\nx-api-key: ${API_KEY}\r\n\r\n`);
    expect(r.text).toMatch(/^HTTP\/1\.1 200 /);
    expect(shim.fake.requests).toHaveLength(1);
  });
});
