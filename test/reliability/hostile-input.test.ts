import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeAnthropic, type FakeAnthropic, type Responder } from '../../src/demo/fake-anthropic.js';
import { API_KEY, LITELLM_KEY, OAUTH, OAUTH_2, SECRETS, startShim, type Shim } from '../helpers/shim.js';
import {
  parseResponses,
  procStats,
  rawExchange,
  recordFigures,
  secretLeaks,
  startChild,
  type ChildProxy,
} from './_harness.js';
import { rawRequest, requestArb, responseComplete, upstreamViolations, type FuzzRequest } from './_invariants.js';

/**
 * Item 3 — hostile input. Request smuggling (RFC 9112 §6.1, §6.3: a request with both
 * Transfer-Encoding and Content-Length, or a Transfer-Encoding whose final coding is not chunked,
 * must be rejected), obs-fold (§5.2), CR/LF injection, path traversal in every encoding,
 * absolute- and authority-form targets (§3.2), `Connection`-listed and `x-pass-*` headers, overlong
 * and non-ASCII targets — then a property-based fuzz (fast-check) of header sets and paths. The
 * invariants (test/reliability/_invariants.ts) are checked on every request the upstream received,
 * and no secret may appear in any response or log line.
 */

const FUZZ_RUNS_IN_PROCESS = 600;
const FUZZ_RUNS_REAL_PROCESS = 200;
const FUZZ_SEED = Number(process.env['AUTH_SHIM_FUZZ_SEED'] ?? 20_261_122);

/** A constant answer: an echo of the path (the default fake's) would put the client's path in the response. */
const constant: Responder = (_req, res) => {
  const body = '{"type":"message","id":"msg_fuzz","content":[]}';
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length) }).end(body);
};

let fake: FakeAnthropic;
let proxy: ChildProxy;
const figures = { requests: 0, faults: 0, failures: [] as string[], leaks: 0, peakRss: 0 };
const started = Date.now();
const responses: string[] = [];

beforeAll(async () => {
  fake = await startFakeAnthropic();
  fake.respond = constant;
  proxy = await startChild({
    upstream: fake.url,
    files: { oauth: OAUTH_2 },
    env: { AUTH_SHIM_OAUTH_TOKEN_FILE: '{dir}/oauth', AUTH_SHIM_LOG_LEVEL: 'debug' },
  });
});

afterAll(async () => {
  figures.peakRss = Math.max(figures.peakRss, procStats(proxy.pid).peakRssBytes);
  const leaks = secretLeaks([proxy.output(), ...responses]);
  figures.leaks += leaks.length;
  await proxy.stop();
  await fake.close();
  recordFigures('3-hostile-input', {
    item: '3. Hostile input (smuggling, injection, traversal, targets, Connection/x-pass-*, fuzz)',
    requests: figures.requests,
    faults: figures.faults,
    failures: figures.failures.length,
    leaks: figures.leaks,
    peakRssBytes: figures.peakRss,
    bound:
      `fast-check: ${FUZZ_RUNS_IN_PROCESS} runs in-process + ` +
      `${FUZZ_RUNS_REAL_PROCESS} against the process (seed ${FUZZ_SEED})`,
    seconds: Math.round((Date.now() - started) / 1000),
  });
  expect(leaks).toEqual([]);
});

const upstreamHost = () => new URL(fake.url).host;

/** Sends raw bytes to the process; returns the responses and what reached the upstream meanwhile. */
async function attack(bytes: string, idleMs = 300) {
  const before = fake.requests.length;
  const { text } = await rawExchange(proxy.port, bytes, { idleMs, done: responseComplete });
  figures.requests++;
  figures.faults++;
  responses.push(text);
  const forwarded = fake.requests.slice(before);
  const violations = forwarded.flatMap((r) => upstreamViolations(r, upstreamHost()));
  figures.failures.push(...violations);
  return { text, statuses: parseResponses(text).map((r) => r.status), forwarded, violations };
}

const smuggled = `GET /key/generate HTTP/1.1\r\nhost: x\r\nx-litellm-api-key: ${LITELLM_KEY}\r\n\r\n`;

describe('item 3: hostile input (real process)', () => {
  it.each([
    ['CL.TE', `content-length: 6\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\nG`],
    ['TE.CL', `transfer-encoding: chunked\r\ncontent-length: 4\r\n\r\n5c\r\n${smuggled}\r\n0\r\n\r\n`],
    ['TE xchunked', `transfer-encoding: xchunked\r\n\r\n0\r\n\r\n${smuggled}`],
    ['TE chunked, identity', `transfer-encoding: chunked, identity\r\n\r\n0\r\n\r\n${smuggled}`],
    ['TE identity + CL', `transfer-encoding: identity\r\ncontent-length: 2\r\n\r\n{}${smuggled}`],
    ['two TE headers', `transfer-encoding: chunked\r\ntransfer-encoding: identity\r\n\r\n0\r\n\r\n${smuggled}`],
    ['TE with space before colon', `transfer-encoding : chunked\r\ncontent-length: 2\r\n\r\n{}`],
    ['duplicate Content-Length (different)', `content-length: 2\r\ncontent-length: 40\r\n\r\n{}${smuggled}`],
    ['duplicate Content-Length (same)', `content-length: 2\r\ncontent-length: 2\r\n\r\n{}${smuggled}`],
    ['Content-Length list', `content-length: 2, 2\r\n\r\n{}`],
    ['Content-Length +2', `content-length: +2\r\n\r\n{}`],
    ['Content-Length hex', `content-length: 0x2\r\n\r\n{}`],
    ['chunk size overflow', `transfer-encoding: chunked\r\n\r\nfffffffffffffffff1\r\n{}\r\n0\r\n\r\n`],
    ['chunk extension with bare LF', `transfer-encoding: chunked\r\n\r\n2;x\n{}\r\n0\r\n\r\n`],
    ['obs-fold smuggling a header', `content-length: 2\r\nx-foo: a\r\n x-litellm-api-key: evil\r\n\r\n{}`],
    ['obs-fold continuing a credential', `content-length: 2\r\nx-foo: a\r\n\tb\r\n\r\n{}`],
    ['bare CR in a value', `content-length: 2\r\nx-foo: a\rx-litellm-api-key: evil\r\n\r\n{}`],
    ['bare LF in a value', `content-length: 2\r\nx-foo: a\nx-pass-authorization: Bearer ${OAUTH}\r\n\r\n{}`],
    ['NUL in a value', `content-length: 2\r\nx-foo: a\x00b\r\n\r\n{}`],
    ['header name with space', `content-length: 2\r\nx-api-key : ${API_KEY}\r\n\r\n{}`],
  ])(
    'smuggling / injection: %s — refused or forwarded as one clean request, never a second one',
    async (_name, rest) => {
      const r = await attack(`POST /v1/messages HTTP/1.1\r\nhost: x\r\nx-api-key: ${OAUTH}\r\n${rest}`);
      expect(r.violations).toEqual([]);
      // Never a second request from the same bytes, and never the smuggled one.
      expect(r.forwarded.length).toBeLessThanOrEqual(1);
      expect(r.forwarded.every((f) => f.url === '/v1/messages')).toBe(true);
      // Whatever the parser did, the connection either refused (400) or answered the one request.
      expect(
        r.statuses.every((s) => s === 400 || s === 200 || s === 404),
        r.text.slice(0, 200),
      ).toBe(true);
      expect(r.text).not.toContain('evil');
    },
  );

  const traversal = [
    '/v1/messages/../../key/generate',
    '/v1/models/..',
    '/v1/models/.',
    '/v1/models/%2e%2e',
    '/v1/models/%2E%2E',
    '/v1/models/.%2e',
    '/v1/models/%2e.',
    '/v1/models/%252e%252e',
    '/v1/models/..%2fkey',
    '/v1/models/..%2Fkey%2Fgenerate',
    '/v1/models/%2f..',
    '/v1/models/..%5ckey',
    '/v1/models/..\\key',
    '/v1/models/%c0%ae%c0%ae',
    '/v1/models/%e0%80%ae%e0%80%ae',
    '/v1/models/%u002e%u002e',
    '/v1/models/%ef%bc%8e%ef%bc%8e',
    '/v1/messages;/../key/generate',
    '/v1/messages/.;/key',
    '//v1/messages',
    '/v1//messages',
    '/./v1/messages',
    '/v1/./messages',
    '/v1/messages/',
    '/V1/MESSAGES',
    '/v1/messages%00',
    '/v1/models/%00',
    '/v1/models/a%0d%0ab',
    '/v1/messages#/../../key/generate',
    '/%2e%2e/key/generate',
    '/v1/models/..%252f..%252fkey',
    `/v1/models/${'%2e'.repeat(300)}`,
    '/v1/models/\xef\xbc\x8e\xef\xbc\x8e',
    '/v1/models/\xc0\xae\xc0\xae',
    '/v1/mod\xe9ls',
    `/v1/models/${'a'.repeat(20 * 1024)}`,
  ];
  it(`path traversal in ${traversal.length} encodings, non-ASCII, overlong: 400/404/431, none sent`, async () => {
    for (const p of traversal) {
      const r = await attack(`GET ${p} HTTP/1.1\r\nhost: x\r\nx-api-key: ${OAUTH}\r\n\r\n`);
      expect(r.forwarded, p).toEqual([]);
      expect(
        r.statuses.length === 0 || [400, 404, 431].includes(r.statuses[0] as number),
        `${p}: ${r.text.slice(0, 80)}`,
      ).toBe(true);
    }
    // A query cannot escape the path: forwarded to the allowlisted route with the query as it is.
    const q = await attack(`GET /v1/models?x=/../../key/generate HTTP/1.1\r\nhost: x\r\nx-api-key: ${OAUTH}\r\n\r\n`);
    expect(q.forwarded.map((f) => f.url)).toEqual(['/v1/models?x=/../../key/generate']);
  });

  it('absolute-form, authority-form and asterisk-form targets never choose the upstream', async () => {
    for (const line of [
      `GET http://127.0.0.1:${new URL(fake.url).port}/v1/models HTTP/1.1`,
      'POST http://evil.example/v1/messages HTTP/1.1',
      'GET https://api.anthropic.com/v1/models HTTP/1.1',
      'CONNECT evil.example:443 HTTP/1.1',
      'OPTIONS * HTTP/1.1',
      'GET evil.example:80 HTTP/1.1',
    ]) {
      const r = await attack(`${line}\r\nhost: evil.example\r\nx-api-key: ${OAUTH}\r\ncontent-length: 0\r\n\r\n`);
      expect(r.forwarded, line).toEqual([]);
      expect(
        r.statuses.length === 0 || [400, 404, 405].includes(r.statuses[0] as number),
        `${line}: ${r.text.slice(0, 80)}`,
      ).toBe(true);
    }
  });

  it("Connection-listed names cannot strip the shim's headers; x-pass-*, proxy-*, key copies never pass", async () => {
    const r = await attack(
      [
        'POST /v1/messages HTTP/1.1',
        'host: x',
        `x-api-key: ${OAUTH}`,
        'anthropic-beta: tools-2024-04-04',
        'Connection: keep-alive, x-litellm-api-key, X-LiteLLM-API-Key, authorization, anthropic-beta, ' +
          'host, content-length, api-key',
        `x-pass-authorization: Bearer ${API_KEY}`,
        `X-Pass-X-Litellm-Api-Key: ${LITELLM_KEY}`,
        'x-pass-host: evil.example',
        `x-litellm-api-key: ${LITELLM_KEY}-client`,
        `api-key: ${LITELLM_KEY}`,
        `proxy-authorization: Bearer ${OAUTH}`,
        'proxy-connection: keep-alive',
        'upgrade: websocket',
        'te: trailers',
        'keep-alive: timeout=5',
        'content-length: 2',
        '',
        '{}',
      ].join('\r\n'),
    );
    expect(r.violations).toEqual([]);
    expect(r.forwarded).toHaveLength(1);
    const f = r.forwarded[0];
    // The client's x-api-key was Connection-listed? No: only names it listed are dropped, and the
    // credential is translated before the shim adds its own headers.
    expect(f?.headers['x-litellm-api-key']).toEqual([LITELLM_KEY]);
    expect(f?.body.toString()).toBe('{}');
    expect(r.statuses).toEqual([200]);
  });

  it(`property: ${FUZZ_RUNS_REAL_PROCESS} fuzzed header sets and paths keep every invariant`, async () => {
    await fc.assert(
      fc.asyncProperty(requestArb, async (req: FuzzRequest) => {
        const { text } = await rawExchange(proxy.port, rawRequest(req), { idleMs: 500, done: responseComplete });
        figures.requests++;
        figures.faults++;
        responses.push(text);
        const leaks = secretLeaks([text]);
        if (leaks.length > 0) throw new Error(`secret in the response: ${leaks.join('; ')}`);
      }),
      { numRuns: FUZZ_RUNS_REAL_PROCESS, seed: FUZZ_SEED },
    );
    const violations = fake.requests.flatMap((r) => upstreamViolations(r, upstreamHost()));
    figures.failures.push(...violations);
    expect(violations).toEqual([]);
    expect(secretLeaks([proxy.output()])).toEqual([]);
  }, 60_000);
});

describe('item 3: property-based fuzz in-process (fast-check)', () => {
  let shim: Shim;
  beforeAll(async () => {
    shim = await startShim({
      logLevel: 'trace',
      files: { oauth: OAUTH_2, litellm: LITELLM_KEY },
      env: { AUTH_SHIM_OAUTH_TOKEN_FILE: '{dir}/oauth', AUTH_SHIM_LITELLM_KEY_FILE: '{dir}/litellm' },
    });
    shim.fake.respond = constant;
  });
  afterAll(async () => {
    await shim.close();
  });

  it(`${FUZZ_RUNS_IN_PROCESS} runs: upstream sees allowlisted paths, translated keys; no secret leaks`, async () => {
    const port = Number(new URL(shim.proxy.url).port);
    const host = new URL(shim.fake.url).host;
    await fc.assert(
      fc.asyncProperty(requestArb, async (req: FuzzRequest) => {
        const before = shim.fake.requests.length;
        const { text } = await rawExchange(port, rawRequest(req), { idleMs: 300, done: responseComplete });
        figures.requests++;
        figures.faults++;
        const problems = shim.fake.requests.slice(before).flatMap((r) => upstreamViolations(r, host));
        const leaks = secretLeaks([text]);
        if (problems.length > 0 || leaks.length > 0) throw new Error([...problems, ...leaks].join('; '));
      }),
      { numRuns: FUZZ_RUNS_IN_PROCESS, seed: FUZZ_SEED },
    );
    const all = shim.fake.requests.flatMap((r) => upstreamViolations(r, host));
    figures.failures.push(...all);
    expect(all).toEqual([]);
    expect(secretLeaks(shim.logs)).toEqual([]);
    expect(shim.fake.requests.length).toBeGreaterThan(FUZZ_RUNS_IN_PROCESS / 10);
    for (const s of SECRETS) expect(shim.logs.join('\n')).not.toContain(s);
  }, 120_000);
});
