import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { API_KEY, startShim, type Shim } from '../../helpers/shim.js';

/**
 * Issue 15, item 5: an upstream `103 Early Hints` or `102 Processing` was written to the client as
 * its final response, the real one then failed with ERR_HTTP_HEADERS_SENT: the client saw only the
 * 1xx, a closed connection, and lost its next pipelined request. Now interim responses are skipped,
 * a `101` or a status outside 100–599 is refused with an Anthropic-shaped 502, and a 204 carries no
 * length or body. The upstream here is a raw socket writing exactly the bytes under test.
 */
let shim: Shim | undefined;
let upstream: Server | undefined;
afterEach(async () => {
  await shim?.close();
  shim = undefined;
  upstream?.close();
  upstream = undefined;
});

const FINAL = (name: string): string => {
  const body = JSON.stringify({ id: name, type: 'model' });
  return `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`;
};

/** A raw upstream answering the n-th request it reads (GET, no body) with `script[n]`. */
async function rawUpstream(script: Array<(path: string) => string>): Promise<string> {
  let n = 0;
  upstream = createServer((sock: Socket) => {
    let buf = '';
    sock.on('error', () => undefined);
    sock.on('data', (c: Buffer) => {
      buf += c.toString('latin1');
      for (let end = buf.indexOf('\r\n\r\n'); end >= 0; end = buf.indexOf('\r\n\r\n')) {
        const head = buf.slice(0, end);
        buf = buf.slice(end + 4);
        const path = head.split(' ')[1] ?? '';
        const answer = script[Math.min(n++, script.length - 1)] as (p: string) => string;
        sock.write(answer(path));
      }
    });
  });
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  const a = upstream.address() as { port: number };
  return `http://127.0.0.1:${a.port}`;
}

/** Sends raw requests on one client connection; resolves with everything read until the shim closes. */
async function exchange(s: Shim, raw: string): Promise<string> {
  const sock = connect(Number(new URL(s.proxy.url).port), '127.0.0.1');
  await once(sock, 'connect');
  let text = '';
  sock.on('data', (c: Buffer) => (text += c.toString('latin1')));
  sock.write(raw);
  await once(sock, 'close');
  return text;
}

const get = (path: string, last = false): string =>
  `GET ${path} HTTP/1.1\r\nhost: x\r\nx-api-key: ${API_KEY}\r\n${last ? 'connection: close\r\n' : ''}\r\n`;

function statusLines(text: string): string[] {
  return [...text.matchAll(/HTTP\/1\.1 (\d{3})[^\r]*\r\n/g)].map((m) => m[1] as string);
}

describe('regression: upstream interim responses', () => {
  for (const interim of [
    'HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\n',
    'HTTP/1.1 102 Processing\r\n\r\n',
    'HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: <x>\r\n\r\n',
  ]) {
    it(`skips ${JSON.stringify(interim.slice(9, 24))}…: the client gets the final response and the next`, async () => {
      const url = await rawUpstream([(p) => interim + FINAL(p), (p) => FINAL(p)]);
      shim = await startShim({ upstreamUrl: url });
      const text = await exchange(shim, get('/v1/models/first') + get('/v1/models/second', true));
      expect(statusLines(text)).toEqual(['200', '200']);
      expect(text).toContain('"/v1/models/first"');
      expect(text).toContain('"/v1/models/second"');
      expect(text).not.toContain('rel=preload');
    });
  }

  for (const [status, line] of [
    ['101', 'HTTP/1.1 101 Switching Protocols\r\n\r\n'],
    ['600', 'HTTP/1.1 600 Whatever\r\ncontent-length: 0\r\n\r\n'],
    ['099', 'HTTP/1.1 099 Low\r\ncontent-length: 0\r\n\r\n'],
  ] as const) {
    it(`refuses a ${status} with an Anthropic-shaped 502 and serves the next pipelined request`, async () => {
      const url = await rawUpstream([() => line, (p) => FINAL(p)]);
      shim = await startShim({ upstreamUrl: url });
      const text = await exchange(shim, get('/v1/models/first') + get('/v1/models/second', true));
      expect(statusLines(text)).toEqual(['502', '200']);
      expect(text).toMatch(/x-auth-shim-error: upstream_protocol_error/);
      const body = text.slice(text.indexOf('{'), text.indexOf('}}') + 2);
      expect(JSON.parse(body)).toMatchObject({ type: 'error', error: { type: 'api_error' } });
      expect(body).toContain(`status ${Number(status)}`);
      expect(text).toContain('"/v1/models/second"');
    });
  }

  it('an unsolicited 100 (undici closes that upstream connection) is a 502, not a lost client connection', async () => {
    const url = await rawUpstream([(p) => `HTTP/1.1 100 Continue\r\n\r\n${FINAL(p)}`, (p) => FINAL(p)]);
    shim = await startShim({ upstreamUrl: url });
    const text = await exchange(shim, get('/v1/models/first') + get('/v1/models/second', true));
    expect(statusLines(text)).toEqual(['502', '200']);
    expect(text).toMatch(/x-auth-shim-error: upstream_protocol_error/);
    expect(text).toContain('"/v1/models/second"');
  });

  it('a 204 that claims a body is passed on without length or body', async () => {
    const url = await rawUpstream([() => 'HTTP/1.1 204 No Content\r\ncontent-length: 5\r\n\r\nhello', (p) => FINAL(p)]);
    shim = await startShim({ upstreamUrl: url });
    const text = await exchange(shim, get('/v1/models/first') + get('/v1/models/second', true));
    expect(statusLines(text)).toEqual(['204', '200']);
    const first = text.slice(0, text.indexOf('HTTP/1.1 200'));
    expect(first).not.toMatch(/content-length/i);
    expect(first).not.toContain('hello');
    expect(text).toContain('"/v1/models/second"');
  });
});
