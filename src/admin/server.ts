import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

export interface AdminDeps {
  readonly registry: Registry;
  /** Why the process is not ready; empty when it is. */
  readonly notReadyReasons: () => string[];
}

/**
 * `/healthz` (the process answers), `/readyz` (it can serve: listeners bound, credentials loaded,
 * not draining — otherwise 503 with every reason, one per line) and `/metrics`. Nothing else:
 * this listener is on the pod address, reachable by anything in the cluster network.
 */
export function createAdminServer(deps: AdminDeps): Server {
  return createServer((req, res) => {
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
        else res.writeHead(503, { 'content-type': 'text/plain' }).end(`not ready:\n${reasons.map((r) => `- ${r}`).join('\n')}\n`);
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
  });
}
