import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool, type Dispatcher } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectRetry } from '../../src/proxy/connect-retry.js';
import { freePort } from '../e2e/_peers.js';

/** A loopback port nothing listens on (bound, then released). */
const closedPort = freePort;

/** Records what reached the handler inside the gate; `settled` resolves at the end or the error. */
function recorder(): Dispatcher.DispatchHandler & { events: string[]; settled: Promise<void> } {
  let settle = (): void => undefined;
  const events: string[] = [];
  return {
    events,
    settled: new Promise<void>((r) => {
      settle = r;
    }),
    onRequestStart: () => events.push('request-start'),
    onResponseStart: (_c, status) => events.push(`response ${status}`),
    onResponseData: () => undefined,
    onResponseEnd: () => {
      events.push('end');
      settle();
    },
    onResponseError: (_c, err) => {
      events.push(`error ${(err as { code?: string }).code}`);
      settle();
    },
  };
}

const open: Array<Pool | Server> = [];
afterEach(async () => {
  for (const o of open.splice(0)) {
    if (o instanceof Pool) await o.destroy();
    else await new Promise<void>((r) => o.close(() => r()));
  }
});

function counting(pool: Pool, onDispatch: (n: number) => void = () => undefined): Dispatcher & { calls: number } {
  const d = {
    calls: 0,
    dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
      d.calls++;
      onDispatch(d.calls);
      return pool.dispatch(options, handler);
    },
  };
  return d as unknown as Dispatcher & { calls: number };
}

const post = (): Dispatcher.DispatchOptions => ({ path: '/v1/messages', method: 'POST', body: '{"a":1}' });

describe('ConnectRetry: only a connection that failed before any byte was sent is tried again', () => {
  it('a refused connection: tried 1 + retries times, then the failure is passed on once', async () => {
    const pool = new Pool(`http://127.0.0.1:${await closedPort()}`);
    open.push(pool);
    const dispatcher = counting(pool);
    const inner = recorder();
    new ConnectRetry(inner, dispatcher, post(), 2, { destroyed: false }).dispatch();
    await inner.settled;
    expect(dispatcher.calls).toBe(3);
    expect(inner.events).toEqual(['error ECONNREFUSED']);
  });

  it('a refused connection, then an upstream that listens: the POST arrives once', async () => {
    const port = await closedPort();
    const bodies: string[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        bodies.push(body);
        res.end('ok');
      });
    });
    open.push(server);
    const pool = new Pool(`http://127.0.0.1:${port}`);
    open.push(pool);
    // The first attempt is refused; the upstream starts before the retry's 100 ms are up.
    const dispatcher = counting(pool, (n) => {
      if (n === 1) setImmediate(() => server.listen(port, '127.0.0.1'));
    });
    const inner = recorder();
    new ConnectRetry(inner, dispatcher, post(), 1, { destroyed: false }).dispatch();
    await inner.settled;
    expect(dispatcher.calls).toBe(2);
    expect(inner.events).toEqual(['request-start', 'response 200', 'end']);
    expect(bodies).toEqual(['{"a":1}']);
  });

  it('a connection that failed after the request was written is never retried', async () => {
    const server = createServer((req) => req.on('data', () => req.socket.destroy()));
    open.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    open.push(pool);
    const dispatcher = counting(pool);
    const inner = recorder();
    new ConnectRetry(inner, dispatcher, post(), 3, { destroyed: false }).dispatch();
    await inner.settled;
    expect(dispatcher.calls).toBe(1);
    expect(inner.events[0]).toBe('request-start');
    expect(inner.events.at(-1)).toMatch(/^error /);
  });

  it('nobody left to answer: no retry', async () => {
    const pool = new Pool(`http://127.0.0.1:${await closedPort()}`);
    open.push(pool);
    const dispatcher = counting(pool);
    const inner = recorder();
    new ConnectRetry(inner, dispatcher, post(), 3, { destroyed: true }).dispatch();
    await inner.settled;
    expect(dispatcher.calls).toBe(1);
    expect(inner.events).toEqual(['error ECONNREFUSED']);
  });
});
