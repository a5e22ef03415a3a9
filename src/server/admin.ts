import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

export interface AdminDeps {
  readonly registry: Registry;
  /** Why the process is not ready; empty when it is. */
  readonly notReadyReasons: () => string[];
  /** Most connections held open at once (AUTH_SHIM_ADMIN_MAX_CONNECTIONS); more are closed on accept. */
  readonly maxConnections: number;
}

/**
 * Limits for a listener on the pod address (issue 15, item 2: 15,000 connections with half-sent
 * headers took the sidecar from 79 to 214 MiB for ~90 s). Probes and scrapes are one small GET
 * each: a client gets 5 s for its headers and 10 s for the request, an idle keep-alive connection
 * 5 s, and a header block 8 KiB; node checks the timeouts every second.
 */
export const ADMIN_LIMITS = Object.freeze({
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  checkIntervalMs: 1_000,
  maxHeaderSize: 8 * 1024,
  maxRequestsPerSocket: 100,
});

/**
 * `/healthz` (the process answers), `/readyz` (it can serve: listeners bound, credentials loaded,
 * not draining — otherwise 503 with every reason, one per line) and `/metrics`. Nothing else:
 * this listener is on the pod address, reachable by anything in the cluster network (see
 * deploy/networkpolicy for limiting who may connect).
 */
export function createAdminServer(deps: AdminDeps): Server {
  const server = createServer(
    {
      headersTimeout: ADMIN_LIMITS.headersTimeoutMs,
      requestTimeout: ADMIN_LIMITS.requestTimeoutMs,
      keepAliveTimeout: ADMIN_LIMITS.keepAliveTimeoutMs,
      connectionsCheckingInterval: ADMIN_LIMITS.checkIntervalMs,
      maxHeaderSize: ADMIN_LIMITS.maxHeaderSize,
    },
    (req, res) => {
      const path = (req.url ?? '').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
        return;
      }
      switch (path) {
        case '/healthz':
          res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
          return;
        case '/readyz': {
          const reasons = deps.notReadyReasons();
          if (reasons.length === 0) res.writeHead(200, { 'content-type': 'text/plain' }).end('ready\n');
          else
            res
              .writeHead(503, { 'content-type': 'text/plain' })
              .end(`not ready:\n${reasons.map((r) => `- ${r}`).join('\n')}\n`);
          return;
        }
        case '/metrics':
          deps.registry.metrics().then(
            (text) => res.writeHead(200, { 'content-type': deps.registry.contentType }).end(text),
            () => res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n'),
          );
          return;
        default:
          res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: /healthz, /readyz, /metrics\n');
      }
    },
  );
  server.maxConnections = deps.maxConnections;
  server.maxRequestsPerSocket = ADMIN_LIMITS.maxRequestsPerSocket;
  // A slow or malformed client gets its connection closed; nothing here needs an answer body.
  server.on('clientError', (_err, socket) => socket.destroy());
  return server;
}
