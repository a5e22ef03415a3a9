import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request exactly as the fake received it. */
export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  /** Flat `[name, value, …]` as on the wire (case and order kept). */
  readonly rawHeaders: readonly string[];
  /** Lower-cased names; repeated headers keep every value. */
  readonly headers: Readonly<Record<string, string[]>>;
  readonly body: Buffer;
}

export type Responder = (req: RecordedRequest, res: ServerResponse, raw: IncomingMessage) => void | Promise<void>;

/** An extra route answered before `respond`; returns false for requests it does not own. */
export type ExtraRoute = (req: RecordedRequest, res: ServerResponse) => boolean | Promise<boolean>;

/** Checks a request's credential: a string is why it is refused, `undefined` lets it through. */
export type CredentialCheck = (req: RecordedRequest) => string | undefined;

export interface FakeAnthropic {
  readonly url: string;
  readonly server: Server;
  readonly requests: RecordedRequest[];
  /** Replace to script the next responses; `defaultResponder` restores the normal behaviour. */
  respond: Responder;
  /**
   * Routes tried before `respond` (and before `authenticate`), e.g. a token endpoint: Anthropic's
   * `/v1/oauth/token` lives on the same host as the Messages API (issue 17).
   */
  routes: ExtraRoute[];
  /**
   * When set, every request not taken by `routes` must pass it, else the fake answers Anthropic's
   * 401 `authentication_error` — so a test sees a forwarded credential that Anthropic would refuse.
   */
  authenticate: CredentialCheck | undefined;
  /** First value of a header in the last request. */
  lastHeader(name: string): string | undefined;
  close(): Promise<void>;
}

export interface SseOptions {
  /** Milliseconds between events (Claude-like streaming); 0 writes them at once. */
  readonly spacingMs?: number;
  readonly text?: readonly string[];
  readonly model?: string;
}

/**
 * A recording stand-in for api.anthropic.com on loopback: it answers `/v1/messages` (JSON, or SSE
 * when the body says `"stream": true`), `/v1/messages/count_tokens` and `/v1/models`, and keeps
 * every request it received so a test can ask "what exactly arrived?".
 */
export async function startFakeAnthropic(host = '127.0.0.1'): Promise<FakeAnthropic> {
  const requests: RecordedRequest[] = [];
  const fake: FakeAnthropic = {
    url: '',
    server: createServer(),
    requests,
    respond: defaultResponder,
    routes: [],
    authenticate: undefined,
    lastHeader(name) {
      return requests.at(-1)?.headers[name.toLowerCase()]?.[0];
    },
    close() {
      return new Promise((resolve) => {
        fake.server.closeAllConnections();
        fake.server.close(() => resolve());
      });
    },
  };
  fake.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers: Record<string, string[]> = {};
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const name = (req.rawHeaders[i] as string).toLowerCase();
        (headers[name] ??= []).push(req.rawHeaders[i + 1] as string);
      }
      const recorded: RecordedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        rawHeaders: [...req.rawHeaders],
        headers,
        body: Buffer.concat(chunks),
      };
      requests.push(recorded);
      answer(fake, recorded, res, req).catch(() => res.destroy());
    });
  });
  await new Promise<void>((resolve) => fake.server.listen({ host, port: 0 }, resolve));
  const a = fake.server.address() as AddressInfo;
  (fake as { url: string }).url = `http://${host}:${a.port}`;
  return fake;
}

async function answer(fake: FakeAnthropic, req: RecordedRequest, res: ServerResponse, raw: IncomingMessage) {
  for (const route of fake.routes) if (await route(req, res)) return;
  const refused = fake.authenticate?.(req);
  if (refused !== undefined) {
    anthropicError(res, 401, 'authentication_error', refused);
    return;
  }
  await fake.respond(req, res, raw);
}

export function requestId(): string {
  return `req_${randomBytes(12).toString('hex')}`;
}

/** Anthropic's behaviour for the few routes the shim forwards. */
export const defaultResponder: Responder = (req, res) => {
  const path = req.url.split('?')[0];
  const get = req.method === 'GET' || req.method === 'HEAD'; // node:http omits the body for HEAD
  if (get && path === '/v1/models') {
    json(res, 200, {
      data: [{ type: 'model', id: 'claude-sonnet-4-5', display_name: 'Claude Sonnet 4.5' }],
      has_more: false,
      first_id: 'claude-sonnet-4-5',
      last_id: 'claude-sonnet-4-5',
    });
    return;
  }
  if (get && path?.startsWith('/v1/models/')) {
    json(res, 200, { type: 'model', id: path.slice('/v1/models/'.length), display_name: 'Claude' });
    return;
  }
  if (req.method === 'POST' && path === '/v1/messages/count_tokens') {
    json(res, 200, { input_tokens: 42 });
    return;
  }
  if (req.method === 'POST' && path === '/v1/messages') {
    let body: { stream?: boolean; model?: string } = {};
    try {
      body = JSON.parse(req.body.toString('utf8')) as typeof body;
    } catch {
      anthropicError(res, 400, 'invalid_request_error', 'the body is not JSON');
      return;
    }
    if (body.stream === true) void sse(res, { model: body.model ?? 'claude-sonnet-4-5' });
    else json(res, 200, message(body.model ?? 'claude-sonnet-4-5', 'Hello from the fake Anthropic.'));
    return;
  }
  anthropicError(res, 404, 'not_found_error', `Not found: ${req.method} ${path}`);
};

export function message(model: string, text: string): Record<string, unknown> {
  return {
    id: `msg_${randomBytes(8).toString('hex')}`,
    type: 'message',
    role: 'assistant',
    model,
    content: [{ type: 'text', text }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: 12, output_tokens: 7, cache_read_input_tokens: 3, cache_creation_input_tokens: 2 },
  };
}

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'request-id': requestId(),
    ...headers,
  });
  res.end(text);
}

export function anthropicError(
  res: ServerResponse,
  status: number,
  type: string,
  msg: string,
  headers: Record<string, string> = {},
): void {
  const id = requestId();
  json(res, status, { type: 'error', error: { type, message: msg }, request_id: id }, { 'request-id': id, ...headers });
}

/** The SSE events of one streamed message, in Anthropic's order. */
export function sseEvents(model: string, text: readonly string[]): string[] {
  const id = `msg_${randomBytes(8).toString('hex')}`;
  const ev = (name: string, data: unknown): string => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
  return [
    ev('message_start', {
      type: 'message_start',
      message: {
        id,
        type: 'message',
        role: 'assistant',
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: 12, cache_creation_input_tokens: 2, cache_read_input_tokens: 3, output_tokens: 1 },
      },
    }),
    ev('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
    ev('ping', { type: 'ping' }),
    ...text.map((t) =>
      ev('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: t } }),
    ),
    ev('content_block_stop', { type: 'content_block_stop', index: 0 }),
    ev('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: 7 },
    }),
    ev('message_stop', { type: 'message_stop' }),
  ];
}

/** Streams a message as Anthropic does: one write per event, optionally spaced in time. */
export async function sse(res: ServerResponse, opts: SseOptions = {}): Promise<void> {
  const events = sseEvents(
    opts.model ?? 'claude-sonnet-4-5',
    opts.text ?? ['Hello', ' from', ' the', ' fake', ' Anthropic.'],
  );
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'request-id': requestId(),
  });
  res.flushHeaders();
  for (const e of events) {
    if (res.destroyed) return;
    res.write(e);
    if ((opts.spacingMs ?? 0) > 0) await new Promise((r) => setTimeout(r, opts.spacingMs));
  }
  res.end();
}
