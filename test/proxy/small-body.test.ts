import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { SMALL_BODY_BYTES } from '../../src/proxy/handler.js';
import { eventually, logLines, OAUTH, startShim, type Shim } from '../helpers/shim.js';

/**
 * Small request bodies are read whole and sent with the request head in one write (handler.ts,
 * SMALL_BODY_BYTES). The upstream here is a raw TCP server, so the test sees the bytes as they
 * arrive on the wire, not as an HTTP server reassembles them.
 */

interface RawUpstream {
  readonly url: string;
  /** Every connection's reads, in order. */
  readonly reads: Buffer[][];
  close(): Promise<void>;
}

const ANSWER = '{"type":"message","usage":{"input_tokens":1,"output_tokens":1}}';

async function startRawUpstream(): Promise<RawUpstream> {
  const reads: Buffer[][] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((sock) => {
    sockets.add(sock);
    sock.on('error', () => {}); // the shim may reset a connection it gives up on; the reads are what is checked
    const mine: Buffer[] = [];
    reads.push(mine);
    let seen = Buffer.alloc(0);
    sock.on('data', (chunk: Buffer) => {
      mine.push(chunk);
      seen = Buffer.concat([seen, chunk]);
      const head = seen.indexOf('\r\n\r\n');
      if (head < 0) return;
      const length = Number(/content-length: *(\d+)/i.exec(seen.subarray(0, head).toString('latin1'))?.[1] ?? 0);
      if (seen.length - head - 4 < length) return;
      seen = seen.subarray(head + 4 + length);
      sock.write(
        `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${ANSWER.length}\r\n\r\n${ANSWER}`,
      );
    });
    sock.on('close', () => sockets.delete(sock));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    reads,
    close: async () => {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

let shim: Shim | undefined;
let upstream: RawUpstream | undefined;
afterEach(async () => {
  await shim?.close();
  await upstream?.close();
  shim = undefined;
  upstream = undefined;
});

describe('small request bodies go upstream with their head', () => {
  it('a body under the bound goes upstream right behind its head, byte for byte, counted in bytes_in', async () => {
    upstream = await startRawUpstream();
    shim = await startShim({ upstreamUrl: upstream.url });
    const body = JSON.stringify({
      model: 'claude-sonnet-4-5',
      messages: [{ role: 'user', content: 'é'.repeat(2000) }],
    });
    expect(Buffer.byteLength(body)).toBeLessThan(SMALL_BODY_BYTES);
    const res = await request(`${shim.proxy.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': OAUTH, 'content-type': 'application/json' },
      body,
      dispatcher: shim.client,
    });
    expect(await res.body.text()).toBe(ANSWER);
    const first = upstream.reads[0]?.[0] ?? Buffer.alloc(0);
    const cut = first.indexOf('\r\n\r\n');
    expect(cut).toBeGreaterThan(0);
    expect(first.subarray(cut + 4).toString('utf8')).toBe(body);
    const line = logLines(shim).find((l) => l['event'] === 'request');
    expect(line?.['bytes_in']).toBe(Buffer.byteLength(body));
  });

  it('a small body that arrives in pieces is forwarded whole, once it is complete', async () => {
    upstream = await startRawUpstream();
    shim = await startShim({ upstreamUrl: upstream.url });
    const body = `{"messages":"${'x'.repeat(3000)}"}`;
    const sock = connect(Number(new URL(shim.proxy.url).port), '127.0.0.1');
    sock.on('error', () => {});
    await once(sock, 'connect');
    const got: Buffer[] = [];
    sock.on('data', (c: Buffer) => got.push(c));
    sock.write(
      `POST /v1/messages HTTP/1.1\r\nhost: x\r\nx-api-key: ${OAUTH}\r\ncontent-length: ${body.length}\r\n\r\n`,
    );
    await new Promise((r) => setTimeout(r, 50));
    sock.write(body.slice(0, 1000));
    await new Promise((r) => setTimeout(r, 50));
    expect(upstream.reads).toHaveLength(0); // nothing sent until the body is complete
    sock.write(body.slice(1000));
    await eventually(() => Buffer.concat(got).toString('latin1').endsWith(ANSWER));
    sock.destroy();
    const wire = Buffer.concat(upstream.reads[0] ?? []);
    expect(wire.subarray(wire.indexOf('\r\n\r\n') + 4).toString('utf8')).toBe(body);
  });

  it('a client that leaves before its small body ends: nothing upstream, one log line, none in flight', async () => {
    upstream = await startRawUpstream();
    shim = await startShim({ upstreamUrl: upstream.url });
    const sock = connect(Number(new URL(shim.proxy.url).port), '127.0.0.1');
    sock.on('error', () => {});
    await once(sock, 'connect');
    sock.write(
      `POST /v1/messages HTTP/1.1\r\nhost: x\r\nx-api-key: ${OAUTH}\r\ncontent-length: 5000\r\n\r\n${'a'.repeat(1000)}`,
    );
    await new Promise((r) => setTimeout(r, 50));
    sock.destroy();
    await eventually(() => logLines(shim as Shim).some((l) => l['event'] === 'request'));
    const lines = logLines(shim).filter((l) => l['event'] === 'request');
    expect(lines).toHaveLength(1);
    expect(lines[0]?.['status']).toBe(0);
    expect(upstream.reads).toHaveLength(0);
    const inflight = await shim.proxy.registry.getSingleMetric('auth_shim_inflight_requests')?.get();
    expect(inflight?.values[0]?.value).toBe(0);
  });

  it('a body over the bound still streams: its first bytes go upstream before the client sent the rest', async () => {
    upstream = await startRawUpstream();
    shim = await startShim({ upstreamUrl: upstream.url });
    const length = SMALL_BODY_BYTES + 1;
    const sock = connect(Number(new URL(shim.proxy.url).port), '127.0.0.1');
    sock.on('error', () => {});
    await once(sock, 'connect');
    sock.write(
      `POST /v1/messages HTTP/1.1\r\nhost: x\r\nx-api-key: ${OAUTH}\r\ncontent-length: ${length}\r\n\r\n` +
        'a'.repeat(1000),
    );
    const wire = (): Buffer => Buffer.concat(upstream?.reads[0] ?? []);
    await eventually(() => wire().includes(`\r\n\r\n${'a'.repeat(1000)}`));
    const got: Buffer[] = [];
    sock.on('data', (c: Buffer) => got.push(c));
    sock.write('a'.repeat(length - 1000));
    await eventually(() => wire().length - wire().indexOf('\r\n\r\n') - 4 === length);
    await eventually(() => Buffer.concat(got).toString('latin1').endsWith(ANSWER));
    sock.destroy();
  });
});
