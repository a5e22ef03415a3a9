import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { API_KEY, startShim, type Shim } from '../helpers/shim.js';

let shim: Shim | undefined;
afterEach(async () => {
  await shim?.close();
  shim = undefined;
});

async function open(s: Shim): Promise<Socket> {
  const sock = connect(Number(new URL(s.proxy.url).port), '127.0.0.1');
  await once(sock, 'connect');
  return sock;
}

function readUntil(sock: Socket, pred: (text: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (c: Buffer) => {
      text += c.toString('latin1');
      if (pred(text)) {
        sock.off('data', onData);
        resolve(text);
      }
    };
    sock.on('data', onData);
    sock.on('error', reject);
    sock.on('close', () => resolve(text));
  });
}

describe('raw HTTP/1.1 behaviour', () => {
  it('Expect: 100-continue is answered by the shim and never forwarded', async () => {
    shim = await startShim();
    const sock = await open(shim);
    sock.write(
      `POST /v1/messages HTTP/1.1\r\nhost: x\r\nx-api-key: ${API_KEY}\r\n` +
        'content-type: application/json\r\ncontent-length: 2\r\nexpect: 100-continue\r\n\r\n',
    );
    expect(await readUntil(sock, (t) => t.includes('\r\n\r\n'))).toMatch(/^HTTP\/1\.1 100 Continue\r\n/);
    sock.write('{}');
    expect(await readUntil(sock, (t) => t.includes('"type":"message"'))).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    sock.destroy();
    expect(shim.fake.requests[0]?.headers['expect']).toBeUndefined();
    expect(shim.fake.requests[0]?.body.toString()).toBe('{}');
  });

  it('pipelined requests get their responses in order', async () => {
    shim = await startShim();
    const sock = await open(shim);
    const one = `GET /v1/models/first HTTP/1.1\r\nhost: x\r\nx-api-key: ${API_KEY}\r\n\r\n`;
    const two = `GET /v1/models/second HTTP/1.1\r\nhost: x\r\nx-api-key: ${API_KEY}\r\n\r\n`;
    sock.write(one + two);
    const text = await readUntil(sock, (t) => t.includes('"second"'));
    sock.destroy();
    expect(text.indexOf('"first"')).toBeGreaterThan(0);
    expect(text.indexOf('"first"')).toBeLessThan(text.indexOf('"second"'));
  });

  it('Content-Length together with Transfer-Encoding (a smuggling shape) is refused before forwarding', async () => {
    shim = await startShim();
    const sock = await open(shim);
    sock.write(
      `POST /v1/messages HTTP/1.1\r\nhost: x\r\nx-api-key: ${API_KEY}\r\n` +
        'content-length: 4\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n' +
        'GET /key/generate HTTP/1.1\r\nhost: x\r\n\r\n',
    );
    const text = await readUntil(sock, () => false);
    expect(text).toMatch(/^HTTP\/1\.1 400 /);
    expect(shim.fake.requests).toHaveLength(0);
  });
});

describe('requests node:http refuses before the handler', () => {
  it.each([
    [
      'oversized headers → 431',
      (k: string) => `GET /v1/models HTTP/1.1\r\nhost: x\r\nx-api-key: ${k}\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`,
      431,
      'too large',
    ],
    [
      'a CR in a header value → 400',
      (k: string) => `GET /v1/models HTTP/1.1\r\nhost: x\r\nx-api-key: ${k}\r\nx-bad: a\rb\r\n\r\n`,
      400,
      'malformed HTTP request',
    ],
    [
      'obs-fold → 400',
      (k: string) => `GET /v1/models HTTP/1.1\r\nhost: x\r\nx-api-key: ${k}\r\nx-folded: a\r\n b\r\n\r\n`,
      400,
      'malformed HTTP request',
    ],
  ])('%s, Anthropic-shaped, no secret echoed', async (_name, request, status, says) => {
    shim = await startShim();
    const sock = await open(shim);
    sock.write(request(API_KEY));
    const text = await readUntil(sock, () => false);
    expect(text).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
    const body = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as {
      type: string;
      error: { type: string; message: string };
    };
    expect(body).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect(body.error.message).toContain(says);
    expect(text).not.toContain(API_KEY);
    expect(shim.fake.requests).toHaveLength(0);
  });
});
