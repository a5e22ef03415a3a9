import type { Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

/**
 * What the sidecar and the webhook do alike around their listeners: bind, name their URL, say why
 * they are not ready, and drain. Written once so the two cannot drift (issue 16, item 5).
 */

export interface ListenAt {
  readonly host: string;
  readonly port: number;
}

/** Binds and resolves once listening; a bind error (EADDRINUSE, EACCES) rejects instead of crashing. */
export function listen(server: Server | HttpsServer, at: ListenAt): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: at.host, port: at.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** The bound URL, IPv6 in brackets (`http://[::1]:8787`). */
export function urlOf(server: Server | HttpsServer, scheme: 'http' | 'https'): string {
  const a = server.address() as AddressInfo;
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return `${scheme}://${host}:${a.port}`;
}

/** The listener's own share of `/readyz`: not bound yet, or shutting down. */
export class ServingState {
  listening = false;
  draining = false;
  readonly #listener: string;

  /** `listener` names it in the reason (`the webhook listener is not bound yet`). */
  constructor(listener: string) {
    this.#listener = listener;
  }

  reasons(): string[] {
    const reasons: string[] = [];
    if (this.draining) reasons.push('shutting down');
    if (!this.listening) reasons.push(`the ${this.#listener} listener is not bound yet`);
    return reasons;
  }
}

/**
 * Graceful stop of one listener: no new connections, idle keep-alive sockets closed as they go idle,
 * in-flight requests given until `timeoutMs`, then every connection cut. Returns how many requests
 * were still in flight at the cut (0: drained).
 */
export async function drainServer(
  server: Server | HttpsServer,
  inflight: () => number,
  timeoutMs: number,
): Promise<number> {
  server.close();
  const deadline = Date.now() + timeoutMs;
  while (inflight() > 0 && Date.now() < deadline) {
    server.closeIdleConnections();
    await new Promise((r) => setTimeout(r, 25));
  }
  const abandoned = inflight();
  server.closeAllConnections();
  return abandoned;
}

/** Closes the admin listener and whatever connections it still holds (a scrape in progress). */
export async function closeAdmin(admin: Server): Promise<void> {
  await new Promise<void>((r) => admin.close(() => r()));
  admin.closeAllConnections();
}
