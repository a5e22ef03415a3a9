import { createServer } from 'node:http';
import { Registry } from 'prom-client';
import { Pool } from 'undici';
import { createAdminServer } from '../server/admin.js';
import { closeAdmin, drainServer, listen, ServingState, urlOf } from '../server/serving.js';
import { displayUrl } from '../config/parsers.js';
import type { ProxyConfig } from '../config/proxy-config.js';
import { credentialSlots } from '../config/credential-slots.js';
import { KnownSecrets } from '../credentials/known-secrets.js';
import { CredentialStore } from '../credentials/store.js';
import { slotName } from '../vocabulary/credentials.js';
import type { ResponseObserver } from '../vocabulary/response.js';
import { credentialFeed } from './credential-feed.js';
import { sidecarFederation } from './federation.js';
import { feedChain } from '../credentials/feed-chain.js';
import type { Logger } from '../telemetry/logger.js';
import { ProxyMetrics } from '../telemetry/metrics.js';
import { createUsageObserver } from '../telemetry/usage-tap.js';
import { answerClientError, answerUnknownExpectation, refusedMissingHost } from '../proxy/client-errors.js';
import { createProxyHandler } from '../proxy/handler.js';

export interface RunningProxy {
  /** Agent-facing base URL, e.g. `http://127.0.0.1:8787`. */
  readonly url: string;
  readonly adminUrl: string;
  readonly registry: Registry;
  readonly metrics: ProxyMetrics;
  readonly credentials: CredentialStore;
  /** Graceful: not ready, stop accepting, let in-flight requests finish up to the drain timeout. */
  shutdown(): Promise<{ drained: boolean; abandoned: number }>;
}

export interface StartOptions {
  readonly log: Logger;
  readonly registry?: Registry;
  readonly defaultMetrics?: boolean;
  readonly observe?: ResponseObserver;
  /** Credential values to mask in what the shim writes; the logger should mask with the same one. */
  readonly secrets?: KnownSecrets;
}

/** Starts the sidecar: credentials first, then the admin and agent-facing listeners. */
export async function startProxy(config: ProxyConfig, opts: StartOptions): Promise<RunningProxy> {
  const { log } = opts;
  const registry = opts.registry ?? new Registry();
  const metrics = new ProxyMetrics(registry, {
    defaultMetrics: opts.defaultMetrics ?? true,
    federation: config.federation,
  });
  const secrets = opts.secrets ?? new KnownSecrets();
  const serving = new ServingState('agent-facing');

  const credentials = new CredentialStore({
    slots: credentialSlots(config),
    oauthExpiresAt: config.oauthTokenExpiresAt,
    log,
    events: {
      onReload: (slot, result) => metrics.credentialReloads.inc({ slot: slotName(slot), result }),
      onSnapshot: (snap, changed) => {
        secrets.set([snap.oauth, snap.apiKey, snap.litellmKey]);
        const now = Date.now() / 1000;
        for (const slot of changed) metrics.credentialLastLoad.set({ slot: slotName(slot) }, now);
        metrics.credentialGeneration.set(snap.generation);
        // A federated token's expiry has its own gauge (federation-metrics.ts), not the subscription token's.
        if (snap.oauthExpiresAt !== undefined && !config.federation) metrics.setOauthExpiry(snap.oauthExpiresAt);
      },
    },
  });
  const federation = sidecarFederation(config, log, {
    onExchange: (result, seconds) => {
      metrics.federation?.exchanges.inc({ result });
      metrics.federation?.exchangeDuration.observe(seconds);
    },
    onToken: (expiresAt) => metrics.federation?.tokenExpiry.set(expiresAt.getTime() / 1000),
  });
  // Files or the Secret first: the exchange may need their LiteLLM key.
  await credentials.start(feedChain([credentialFeed(config, log), federation]));
  const expiredReasons = (): string[] => {
    const reason = federation?.expiredReason(Date.now());
    return reason === undefined ? [] : [reason];
  };
  const snapshots = {
    snapshot: () => credentials.snapshot(),
    notReadyReasons: () => [...credentials.notReadyReasons(), ...expiredReasons()],
  };

  const dispatcher = new Pool(config.upstream.origin, {
    connections: config.upstreamConnections === 0 ? null : config.upstreamConnections,
    connect: { timeout: config.connectTimeoutMs },
    headersTimeout: config.headersTimeoutMs,
    bodyTimeout: config.bodyTimeoutMs,
  });
  const handler = createProxyHandler({
    config,
    credentials: snapshots,
    dispatcher,
    metrics,
    log,
    observe: opts.observe ?? createUsageObserver(metrics),
    mask: secrets.mask,
    ...(federation === undefined ? {} : { federation }),
  });

  const notReadyReasons = (): string[] => {
    return [...serving.reasons(), ...snapshots.notReadyReasons()];
  };

  const admin = createAdminServer({ registry, notReadyReasons, maxConnections: config.adminMaxConnections });
  // Slowloris: node:http answers 408 and closes a connection whose headers or whole request take
  // too long. It checks only every `connectionsCheckingInterval` (30 s by default), so the check
  // runs at least twice per headers timeout for a short one to take effect.
  const server = createServer(
    {
      keepAliveTimeout: 5_000,
      headersTimeout: config.clientHeadersTimeoutMs,
      requestTimeout: config.clientRequestTimeoutMs,
      connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.floor(config.clientHeadersTimeoutMs / 2))),
      requireHostHeader: false, // answered by refusedMissingHost, Anthropic-shaped
    },
    (req, res) => {
      if (!refusedMissingHost(req, res)) handler(req, res);
    },
  );
  server.on('clientError', answerClientError);
  server.on('checkExpectation', answerUnknownExpectation);
  try {
    await listen(admin, config.adminListen);
    await listen(server, config.listen);
  } catch (err) {
    credentials.stop();
    admin.close();
    server.close();
    await dispatcher.destroy();
    throw err;
  }
  serving.listening = true;
  const url = urlOf(server, 'http');
  const adminUrl = urlOf(admin, 'http');
  log.info(
    {
      event: 'listening',
      url,
      admin: adminUrl,
      upstream: displayUrl(config.upstream),
      source: config.credentialSource,
    },
    'auth-shim proxy ready',
  );

  let shuttingDown: Promise<{ drained: boolean; abandoned: number }> | undefined;
  async function shutdown(): Promise<{ drained: boolean; abandoned: number }> {
    serving.draining = true;
    handler.drain();
    const abandoned = await drainServer(server, () => handler.inflight(), config.drainTimeoutMs);
    credentials.stop();
    await closeAdmin(admin);
    await dispatcher.destroy().catch(() => undefined);
    log.info({ event: 'stopped', drained: abandoned === 0, abandoned }, 'auth-shim proxy stopped');
    return { drained: abandoned === 0, abandoned };
  }

  return {
    url,
    adminUrl,
    registry,
    metrics,
    credentials,
    shutdown: () => (shuttingDown ??= shutdown()),
  };
}
