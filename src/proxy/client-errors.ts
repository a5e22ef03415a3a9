import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { quoteValue } from '../vocabulary/redaction.js';
import { errorBody } from './errors.js';

/**
 * Requests node:http rejects before the handler sees them (malformed, headers too large, too slow,
 * no `Host`, an `Expect` it cannot meet) get an Anthropic-shaped answer too, naming the problem,
 * instead of node's bare status line. The connection is closed afterwards: its framing can no
 * longer be trusted, or the client is not speaking HTTP/1.1 as it should.
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (!socket.writable || (err as { code?: string }).code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const [status, reason, message] = describe(err);
  const body = errorBody('invalid_request_error', `auth-shim: ${message}`);
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `x-should-retry: false\r\nx-auth-shim-error: client_error\r\nconnection: close\r\n\r\n${body}`,
  );
}

/**
 * node:http's own `requireHostHeader` check answers an empty 400 (issue 15, item 8), so the server
 * turns it off and asks this first: true when the request was answered here (HTTP/1.1 without
 * `Host`, RFC 9112 §3.2).
 */
export function refusedMissingHost(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.headers.host !== undefined || req.httpVersionMajor !== 1 || req.httpVersionMinor !== 1) return false;
  answer(res, 400, 'the request has no Host header (RFC 9112 §3.2)');
  return true;
}

/** The `checkExpectation` listener: an `Expect` other than `100-continue` (RFC 9110 §10.1.1). */
export function answerUnknownExpectation(req: IncomingMessage, res: ServerResponse): void {
  answer(
    res,
    417,
    `the Expect header ${quoteValue(String(req.headers.expect).slice(0, 60))} is not supported (only 100-continue)`,
  );
}

function answer(res: ServerResponse, status: number, message: string): void {
  const body = errorBody('invalid_request_error', `auth-shim: ${message}`);
  res.shouldKeepAlive = false;
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'x-should-retry': 'false',
    'x-auth-shim-error': 'client_error',
  });
  res.end(body);
}

function describe(err: NodeJS.ErrnoException): [number, string, string] {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return [431, 'Request Header Fields Too Large', 'the request headers are too large'];
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [
        408,
        'Request Timeout',
        'the request was not received in time ' +
          '(AUTH_SHIM_CLIENT_HEADERS_TIMEOUT_MS / AUTH_SHIM_CLIENT_REQUEST_TIMEOUT_MS)',
      ];
    default:
      // llhttp's reason ("Invalid header value char", "Content-Length can't be present with Transfer-Encoding", …)
      return [
        400,
        'Bad Request',
        'malformed HTTP request ' +
          `(${String((err as { reason?: unknown }).reason ?? err.code ?? 'parse error').slice(0, 120)})`,
      ];
  }
}
