import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Registry } from 'prom-client';
import { createAdminServer } from '../server/admin.js';
import { closeAdmin, drainServer, listen, ServingState, urlOf } from '../server/serving.js';
import type { HostPort } from '../config/parsers.js';
import type { Logger } from '../telemetry/logger.js';
import { WebhookMetrics } from '../telemetry/webhook-metrics.js';
import { parseAdmissionReview, review } from './admission.js';
import type { InjectorConfig } from './config.js';
import type { CertSource, ServingCert } from './cert-source.js';

export interface WebhookServerOptions {
  readonly injector: InjectorConfig;
  readonly listen: HostPort;
  readonly adminListen: HostPort;
  readonly maxBodyBytes: number;
  readonly requestTimeoutMs: number;
  readonly drainTimeoutMs: number;
  readonly certs: CertSource;
  readonly log: Logger;
  readonly registry?: Registry;
  readonly defaultMetrics?: boolean;
}

export interface RunningWebhook {
  readonly url: string;
  readonly adminUrl: string;
  readonly registry: Registry;
  readonly metrics: WebhookMetrics;
  shutdown(): Promise<{ drained: boolean }>;
}

/**
 * `/mutate` serves the webhook entry selected by annotation (pods that say `auth-shim.io/inject:
 * "true"`), `/mutate/namespace-enabled` the entry whose namespaceSelector matches
 * `auth-shim.io/inject=enabled`: the API server's selectors tell the webhook which case it is,
 * so it never needs to read Namespaces (Istio splits its webhook the same way).
 */
const ROUTES: Record<string, boolean> = { '/mutate': false, '/mutate/namespace-enabled': true };

/**
 * Bounds on the webhook listener (issue 15, item 3: 3,000 TLS connections took RSS from 73 to
 * 203 MiB and slowed a real review to 3.4 s). The API server reuses a few keep-alive connections
 * per replica; 256 leaves room for several replicas and a burst of pod creations.
 */
export const WEBHOOK_LIMITS = Object.freeze({
  maxConnections: 256,
  handshakeTimeoutMs: 5_000,
  keepAliveTimeoutMs: 5_000,
  adminMaxConnections: 64,
});

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (declared > limit) {
      reject(
        new HttpError(413, `AdmissionReview is ${declared} bytes, more than AUTH_SHIM_WEBHOOK_MAX_BODY_BYTES=${limit}`),
      );
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new HttpError(413, `AdmissionReview is more than AUTH_SHIM_WEBHOOK_MAX_BODY_BYTES=${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: string, type = 'text/plain'): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) }).end(body);
}

export async function startWebhook(opts: WebhookServerOptions): Promise<RunningWebhook> {
  const { log } = opts;
  const registry = opts.registry ?? new Registry();
  const metrics = new WebhookMetrics(registry, { defaultMetrics: opts.defaultMetrics ?? true });
  const serving = new ServingState('webhook');
  let inflight = 0;

  // A server without a certificate yet fails handshakes until `onCert` arrives; `/readyz` says why.
  const server: HttpsServer = createHttpsServer({
    requestTimeout: opts.requestTimeoutMs,
    headersTimeout: opts.requestTimeoutMs,
    keepAliveTimeout: WEBHOOK_LIMITS.keepAliveTimeoutMs,
    // node checks the timeouts above only this often (30 s by default): a 2 s timeout held a slow
    // body ~20 s and an idle TLS connection 30 s (issue 15, item 3).
    connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(opts.requestTimeoutMs / 2))),
    // A TCP connection that never sends a ClientHello is closed (node's default waits 120 s).
    handshakeTimeout: Math.min(WEBHOOK_LIMITS.handshakeTimeoutMs, opts.requestTimeoutMs),
  });
  server.maxConnections = WEBHOOK_LIMITS.maxConnections;
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    inflight++;
    // The whole request within AUTH_SHIM_WEBHOOK_REQUEST_TIMEOUT_MS, whatever node's check interval.
    const deadline = setTimeout(() => {
      send(
        res,
        408,
        `the AdmissionReview did not arrive within AUTH_SHIM_WEBHOOK_REQUEST_TIMEOUT_MS=${opts.requestTimeoutMs}\n`,
      );
      res.shouldKeepAlive = false;
      req.destroy();
    }, opts.requestTimeoutMs);
    req.once('end', () => clearTimeout(deadline));
    res.on('close', () => {
      clearTimeout(deadline);
      inflight--;
    });
    void handle(req, res);
  });
  server.on('tlsClientError', (err) =>
    log.debug({ event: 'tls_client_error', err: err.message }, 'TLS handshake failed'),
  );

  const onCert = (cert: ServingCert): void => {
    server.setSecureContext({ cert: cert.cert, key: cert.key });
    metrics.certExpiry.set(cert.notAfter.getTime() / 1000);
    log.info({ event: 'certificate_loaded', notAfter: cert.notAfter.toISOString() }, 'serving certificate loaded');
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    const path = (req.url ?? '').split('?')[0] ?? '';
    const optedIn = ROUTES[path];
    let dryRun = false;
    try {
      if (optedIn === undefined) throw new HttpError(404, 'not found: POST /mutate or /mutate/namespace-enabled');
      if (req.method !== 'POST') {
        res.setHeader('allow', 'POST');
        throw new HttpError(405, 'method not allowed: POST an AdmissionReview');
      }
      const raw = await readBody(req, opts.maxBodyBytes);
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch (err) {
        throw new HttpError(400, `body is not JSON: ${(err as Error).message}`);
      }
      const parsed = parseAdmissionReview(body);
      if ('problem' in parsed) throw new HttpError(400, `malformed AdmissionReview: ${parsed.problem}`);
      const request = parsed.request;
      dryRun = request.dryRun;
      const result = review(request, opts.injector, optedIn);
      send(res, 200, JSON.stringify(result.review), 'application/json');
      metrics.reviews.inc({
        decision: result.decision,
        dry_run: String(dryRun),
        ...(result.skipCode === undefined ? {} : { reason: result.skipCode }),
      });
      const meta = (request.object as { metadata?: { name?: unknown; generateName?: unknown } } | undefined)?.metadata;
      log.info(
        {
          event: 'review',
          uid: request.uid,
          namespace: request.namespace,
          name: request.name ?? meta?.name ?? meta?.generateName,
          operation: request.operation,
          decision: result.decision,
          reason: result.reason,
          ...(result.skipCode === undefined ? {} : { code: result.skipCode }),
          dryRun,
        },
        `pod ${result.decision}`,
      );
    } catch (err) {
      // Nothing escapes the handler: a bad review is the client's problem (4xx), anything else is
      // ours (500, and the API server applies the webhook's failurePolicy).
      const status = err instanceof HttpError ? err.status : 500;
      const message = err instanceof Error ? err.message : String(err);
      send(res, status, `${message}\n`);
      if (status >= 400)
        metrics.reviews.inc({ decision: status >= 500 ? 'error' : 'invalid', dry_run: String(dryRun) });
      (status >= 500 ? log.error.bind(log) : log.warn.bind(log))(
        { event: 'review_failed', status, err: message },
        'review not answered',
      );
      if (status === 413) res.on('finish', () => req.destroy());
    } finally {
      metrics.duration.observe(Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  await opts.certs.start({
    onCert,
    onReload: (result, error) => {
      metrics.tlsReloads.inc({ result });
      if (result === 'error')
        log.warn(
          { event: 'certificate_reload_failed', err: error },
          'serving certificate not (re)loaded; the last good one stays in use',
        );
    },
  });

  const notReadyReasons = (): string[] => {
    const reasons = serving.reasons();
    const p = opts.certs.problem();
    if (p !== undefined) reasons.push(`no serving certificate: ${p}`);
    return reasons;
  };
  const admin = createAdminServer({ registry, notReadyReasons, maxConnections: WEBHOOK_LIMITS.adminMaxConnections });
  try {
    await listen(admin, opts.adminListen);
    await listen(server, opts.listen);
  } catch (err) {
    opts.certs.stop();
    admin.close();
    server.close();
    throw err;
  }
  serving.listening = true;
  const url = urlOf(server, 'https');
  const adminUrl = urlOf(admin, 'http');
  log.info({ event: 'listening', url, admin: adminUrl }, 'auth-shim webhook ready');

  let stopping: Promise<{ drained: boolean }> | undefined;
  async function shutdown(): Promise<{ drained: boolean }> {
    serving.draining = true;
    const drained = (await drainServer(server, () => inflight, opts.drainTimeoutMs)) === 0;
    opts.certs.stop();
    await closeAdmin(admin);
    log.info({ event: 'stopped', drained }, 'auth-shim webhook stopped');
    return { drained };
  }
  return { url, adminUrl, registry, metrics, shutdown: () => (stopping ??= shutdown()) };
}
