import fc from 'fast-check';
import type { RecordedRequest } from '../../src/demo/fake-anthropic.js';
import { OAUTH_BETA } from '../../src/proxy/translate.js';
import { API_KEY, LITELLM_KEY, OAUTH, OAUTH_2, SECRETS } from '../helpers/shim.js';

/**
 * The security invariants every forwarded request must satisfy, whatever the client sent:
 * - the path is on the allowlist (the LiteLLM key reaches only allowlisted routes);
 * - exactly one LiteLLM key header, the shim's own key;
 * - the Anthropic credential is in its one translated form (Bearer + oauth beta for `sk-ant-oat`,
 *   `x-api-key` for `sk-ant-api`), never both headers;
 * - no secret appears in any other header (no `x-pass-*`, `api-key`, copies, folded or injected lines).
 */
const ALLOWED = /^\/v1\/messages(\/count_tokens)?$|^\/v1\/models$|^\/v1\/models\/[A-Za-z0-9._~:@+-]+$/;

export function upstreamViolations(r: RecordedRequest, upstreamHost: string): string[] {
  const problems: string[] = [];
  const path = r.url.split('?')[0] ?? '';
  const segment = path.split('/')[3];
  if (!ALLOWED.test(path) || segment === '.' || segment === '..')
    problems.push(`path not allowlisted: ${JSON.stringify(path.slice(0, 80))}`);
  const h = r.headers;
  if (JSON.stringify(h['x-litellm-api-key']) !== JSON.stringify([LITELLM_KEY]))
    problems.push(`x-litellm-api-key is ${JSON.stringify(h['x-litellm-api-key'])?.slice(0, 40)}`);
  const auth = h['authorization'];
  const xKey = h['x-api-key'];
  let credentialHeader: string | undefined;
  if (auth !== undefined && xKey !== undefined) problems.push('both authorization and x-api-key reached the upstream');
  if (auth !== undefined) {
    credentialHeader = 'authorization';
    if (auth.length !== 1 || (auth[0] !== `Bearer ${OAUTH}` && auth[0] !== `Bearer ${OAUTH_2}`))
      problems.push('authorization is not a translated OAuth token');
    const betas = (h['anthropic-beta'] ?? [])
      .join(',')
      .split(',')
      .map((s) => s.trim());
    if (betas.filter((b) => b === OAUTH_BETA).length < 1) problems.push('OAuth without the oauth beta');
  } else if (xKey !== undefined) {
    credentialHeader = 'x-api-key';
    if (xKey.length !== 1 || xKey[0] !== API_KEY) problems.push('x-api-key is not an Anthropic API key');
  } else {
    problems.push('no Anthropic credential forwarded');
  }
  if (JSON.stringify(h['host']) !== JSON.stringify([upstreamHost]))
    problems.push(`host is ${JSON.stringify(h['host'])}`);
  for (let i = 0; i < r.rawHeaders.length; i += 2) {
    const name = (r.rawHeaders[i] as string).toLowerCase();
    const value = r.rawHeaders[i + 1] as string;
    if (name === credentialHeader || name === 'x-litellm-api-key') continue;
    if (SECRETS.some((s) => value.includes(s)) || value.includes('sk-ant-'))
      problems.push(`a secret in upstream header ${name}`);
    // undici writes its own `connection: keep-alive`; any other value would be the client's list.
    if (name === 'connection' && value !== 'keep-alive' && value !== 'close')
      problems.push(`the client's connection header reached the upstream`);
    if (
      name.startsWith('x-pass-') ||
      name.startsWith('proxy-') ||
      name === 'api-key' ||
      name === 'keep-alive' ||
      name === 'upgrade' ||
      name === 'te' ||
      name === 'trailer' ||
      name === 'expect'
    ) {
      problems.push(`header ${name} reached the upstream`);
    }
  }
  return problems;
}

// ---- fast-check arbitraries: header sets and request targets a hostile client might send ----

const CREDENTIAL_VALUES = [
  OAUTH,
  API_KEY,
  LITELLM_KEY,
  `Bearer ${OAUTH}`,
  `Bearer ${API_KEY}`,
  `bearer   ${OAUTH}  `,
  `Bearer ${LITELLM_KEY}`,
  `Basic ${Buffer.from(`u:${OAUTH}`).toString('base64')}`,
  'placeholder',
  '',
  `${OAUTH},${API_KEY}`,
  `Bearer ${OAUTH} ${API_KEY}`,
];
/** Header names that carry credentials, or would remove/override what the shim sets. */
const SENSITIVE_NAMES = [
  'x-api-key',
  'authorization',
  'x-litellm-api-key',
  'api-key',
  'proxy-authorization',
  'x-pass-authorization',
  'x-pass-x-api-key',
  'x-pass-x-litellm-api-key',
  'x-pass-api-key',
  'X-Pass-Authorization',
  'Proxy-Authorization',
  'X-LiteLLM-API-Key',
];
const HOP_NAMES = [
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'upgrade',
  'proxy-connection',
  'x-pass-host',
  'x-pass-anthropic-beta',
];
const LISTABLE = [
  'x-litellm-api-key',
  'authorization',
  'x-api-key',
  'anthropic-beta',
  'host',
  'content-length',
  'content-type',
  'close',
  'keep-alive',
  'upgrade',
  'api-key',
];
const BENIGN_NAMES = [
  'anthropic-version',
  'anthropic-beta',
  'user-agent',
  'x-stainless-lang',
  'x-claude-code-session-id',
  'x-app',
  'accept',
];

const randomCase = (s: string) =>
  fc
    .array(fc.boolean(), { minLength: s.length, maxLength: s.length })
    .map((up) => [...s].map((c, i) => (up[i] === true ? c.toUpperCase() : c)).join(''));
const benignValue = fc.stringMatching(/^[A-Za-z0-9 ._,=;:/-]{0,40}$/);

export const headerArb: fc.Arbitrary<[string, string]> = fc.oneof(
  fc.tuple(fc.constantFrom(...SENSITIVE_NAMES).chain(randomCase), fc.constantFrom(...CREDENTIAL_VALUES)),
  // The two headers the shim reads credentials from, with values built from several secrets.
  fc.tuple(
    fc.constantFrom('x-api-key', 'authorization').chain(randomCase),
    fc
      .tuple(
        fc.constantFrom('', 'Bearer ', 'bearer\t'),
        fc.array(fc.constantFrom(...SECRETS, 'x'), { minLength: 1, maxLength: 3 }),
        fc.constantFrom(',', ' ', '\t', ';', ', '),
      )
      .map(([p, parts, sep]) => `${p}${parts.join(sep)}`),
  ),
  fc.tuple(
    fc.constant('Connection'),
    fc.subarray(LISTABLE, { minLength: 1 }).map((l) => l.join(', ')),
  ),
  fc.tuple(
    fc.constantFrom(...HOP_NAMES).chain(randomCase),
    fc.oneof(benignValue, fc.constantFrom(...CREDENTIAL_VALUES)),
  ),
  fc.tuple(fc.constantFrom(...BENIGN_NAMES), benignValue),
  // Header injection: a value with CR/LF trying to add a credential header of its own.
  fc.tuple(
    fc.constantFrom(...BENIGN_NAMES),
    fc
      .constantFrom(...CREDENTIAL_VALUES)
      .chain((v) =>
        fc.constantFrom(
          `a\r\nx-litellm-api-key: ${v}`,
          `a\nauthorization: ${v}`,
          `a\rx-api-key: ${v}`,
          `a\r\n x-pass-authorization: ${v}`,
        ),
      ),
  ),
);

const SEGMENTS = [
  'v1',
  'messages',
  'models',
  'count_tokens',
  'claude-sonnet-4-5',
  'key',
  'generate',
  'user',
  'new',
  '..',
  '.',
  '%2e%2e',
  '%2E%2e',
  '.%2e',
  '%252e%252e',
  '..%2f',
  '%2F',
  '%5c',
  '\\',
  '',
  ';',
  '..;',
  '%00',
  '%c0%ae%c0%ae',
  '%e0%80%ae',
  '%u002e%u002e',
  '%ef%bc%8e%ef%bc%8e',
  'a:b@c',
  '~',
];
export const pathArb: fc.Arbitrary<string> = fc.oneof(
  {
    arbitrary: fc.constantFrom(
      '/v1/messages',
      '/v1/messages?beta=true',
      '/v1/messages/count_tokens',
      '/v1/models',
      '/v1/models/claude-sonnet-4-5',
    ),
    weight: 3,
  },
  fc.array(fc.constantFrom(...SEGMENTS), { minLength: 1, maxLength: 6 }).map((s) => `/${s.join('/')}`),
  fc
    .tuple(
      fc.constantFrom('/v1/messages', '/v1/models/x', '/v1/models'),
      fc.constantFrom(...SEGMENTS),
      fc.constantFrom('', '?beta=true', '#frag', '?../../key/generate'),
    )
    .map(([a, b, c]) => `${a}/${b}${c}`),
  fc.constantFrom(
    '//v1/messages',
    '/v1//messages',
    '/./v1/messages',
    '/V1/MESSAGES',
    'http://127.0.0.1/v1/messages',
    'http://evil.example/v1/messages',
    '*',
    '127.0.0.1:443',
  ),
);

export interface FuzzRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Array<[string, string]>;
}

export const requestArb: fc.Arbitrary<FuzzRequest> = fc.record({
  method: fc.constantFrom('GET', 'POST', 'POST', 'DELETE'),
  path: pathArb,
  headers: fc.array(headerArb, { maxLength: 8 }),
});

export function rawRequest(r: FuzzRequest): string {
  const body = r.method === 'POST' ? '{"model":"claude-sonnet-4-5","max_tokens":1,"messages":[]}' : '';
  const lines = [`${r.method} ${r.path} HTTP/1.1`, 'host: 127.0.0.1', ...r.headers.map(([n, v]) => `${n}: ${v}`)];
  if (r.method !== 'GET') lines.push(`content-length: ${body.length}`);
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

/** True once `text` holds one complete response (Content-Length framed) or a 1xx-free close. */
export function responseComplete(text: string): boolean {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return false;
  const len = /\r\ncontent-length: (\d+)/i.exec(text.slice(0, end))?.[1];
  return len !== undefined && text.length >= end + 4 + Number(len);
}
