import type { Socket } from 'node:net';
import { errorBody } from './errors.js';

/**
 * Requests node:http rejects before the handler sees them (malformed, headers too large, too slow)
 * get an Anthropic-shaped answer too, naming the problem, instead of node's bare status line.
 * The connection is closed afterwards: its framing can no longer be trusted.
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

function describe(err: NodeJS.ErrnoException): [number, string, string] {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return [431, 'Request Header Fields Too Large', 'the request headers are too large'];
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [408, 'Request Timeout', 'the request was not received in time (AUTH_SHIM_CLIENT_HEADERS_TIMEOUT_MS / AUTH_SHIM_CLIENT_REQUEST_TIMEOUT_MS)'];
    default:
      // llhttp's reason ("Invalid header value char", "Content-Length can't be present with Transfer-Encoding", …)
      return [400, 'Bad Request', `malformed HTTP request (${String((err as { reason?: unknown }).reason ?? err.code ?? 'parse error').slice(0, 120)})`];
  }
}
