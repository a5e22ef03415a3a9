import { once } from 'node:events';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { sseEvents } from '../../src/demo/fake-anthropic.js';
import { eventually, logLines, OAUTH, startShim, type Shim } from '../helpers/shim.js';

let shim: Shim | undefined;
afterEach(async () => {
  await shim?.close();
  shim = undefined;
});

describe('client disconnects abort the upstream at once (an abandoned generation keeps costing tokens)', () => {
  it('mid-stream', async () => {
    shim = await startShim();
    let upstreamClosed = false;
    shim.fake.respond = (_req, res) => {
      res.on('close', () => (upstreamClosed = true));
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(sseEvents('m', ['a'])[0]); // then keeps the stream open forever
    };
    const ac = new AbortController();
    const res = await request(`${shim.proxy.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': OAUTH },
      body: '{"stream":true}',
      signal: ac.signal,
      dispatcher: shim.client,
    });
    for await (const _chunk of res.body) {
      ac.abort();
      break;
    }
    await eventually(() => upstreamClosed);
    await eventually(
      () => shim?.proxy.metrics.inflight !== undefined && logLines(shim).some((l) => l['event'] === 'request'),
    );
  });

  it('while waiting for response headers', async () => {
    shim = await startShim();
    let upstreamClosed = false;
    let arrived = false;
    shim.fake.respond = (_req, res) => {
      arrived = true;
      res.on('close', () => (upstreamClosed = true));
    };
    const ac = new AbortController();
    const pending = request(`${shim.proxy.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': OAUTH },
      body: '{}',
      signal: ac.signal,
      dispatcher: shim.client,
    });
    await eventually(() => arrived);
    ac.abort();
    await expect(pending).rejects.toThrow();
    await eventually(() => upstreamClosed);
  });

  it('before the request body has ended: the upstream request is abandoned, nothing completes', async () => {
    shim = await startShim();
    let upstreamSaw = 0;
    shim.fake.server.prependListener('request', (req) => {
      req.on('data', (c: Buffer) => (upstreamSaw += c.length));
    });
    const sock = connect(Number(new URL(shim.proxy.url).port), '127.0.0.1');
    await once(sock, 'connect');
    sock.write(
      `POST /v1/messages HTTP/1.1\r\nhost: x\r\nx-api-key: ${OAUTH}\r\ncontent-length: 100000\r\n\r\n` +
        'a'.repeat(5000),
    );
    await eventually(() => upstreamSaw === 5000);
    sock.destroy();
    await eventually(() => logLines(shim as Shim).some((l) => l['event'] === 'request'));
    expect(shim.fake.requests).toHaveLength(0); // the fake never saw a complete request
  });
});

describe('backpressure', () => {
  it('a client that does not read pauses the upstream instead of buffering the response in memory', async () => {
    shim = await startShim();
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    const total = 64;
    let accepted = 0;
    let blocked = false;
    shim.fake.respond = async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      for (let i = 0; i < total; i++) {
        if (!res.write(chunk)) {
          blocked = true;
          await once(res, 'drain');
        }
        accepted++;
      }
      res.end();
    };
    const res = await request(`${shim.proxy.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': OAUTH },
      body: '{}',
      dispatcher: shim.client,
      highWaterMark: 16 * 1024,
    });
    // Read nothing: the upstream must be stopped by full socket buffers along the way.
    await eventually(() => blocked);
    await new Promise((r) => setTimeout(r, 200));
    expect(accepted).toBeLessThan(16); // three socket buffers, not 64 MiB
    let received = 0;
    for await (const c of res.body) received += (c as Buffer).length;
    expect(received).toBe(total * chunk.length);
  });

  it("an upstream that stops reading the body stalls the client's upload, the shim does not buffer it", async () => {
    shim = await startShim({ env: { AUTH_SHIM_MAX_BODY_BYTES: String(256 * 1024 * 1024) } });
    let upstreamRead = 0;
    let resumeUpstream: () => void = () => undefined;
    // Read the first chunk, then stop reading: TCP buffers fill up back to the client.
    shim.fake.server.removeAllListeners('request');
    shim.fake.server.on('request', (req, res) => {
      req.once('data', (c: Buffer) => {
        upstreamRead += c.length;
        req.pause();
        resumeUpstream = () => {
          req.on('data', (d: Buffer) => (upstreamRead += d.length));
          req.resume();
        };
      });
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
    });
    const total = 64 * 1024 * 1024;
    const sock = connect(Number(new URL(shim.proxy.url).port), '127.0.0.1');
    await once(sock, 'connect');
    sock.write(`POST /v1/messages HTTP/1.1\r\nhost: x\r\nx-api-key: ${OAUTH}\r\ncontent-length: ${total}\r\n\r\n`);
    const chunk = Buffer.alloc(1024 * 1024, 0x62);
    let written = 0;
    while (written < total && sock.write(chunk)) written += chunk.length;
    if (written < total) written += chunk.length; // the write that returned false was still queued
    await eventually(() => upstreamRead > 0);
    await new Promise((r) => setTimeout(r, 200));
    // The client could not push the whole 64 MiB: the shim did not read ahead of the upstream.
    expect(written).toBeLessThan(32 * 1024 * 1024);
    resumeUpstream();
    while (written < total) {
      if (!sock.write(chunk)) await once(sock, 'drain');
      written += chunk.length;
    }
    const response = await new Promise<string>((resolve) => {
      let text = '';
      sock.on('data', (c: Buffer) => {
        text += c.toString();
        if (text.includes('{}')) resolve(text); // chunked or length-framed
      });
    });
    sock.destroy();
    expect(response).toMatch(/^HTTP\/1\.1 200 /);
    expect(upstreamRead).toBe(total);
  });
});
