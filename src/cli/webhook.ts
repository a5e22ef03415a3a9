import { optionsHelp } from '../config/options.js';
import { INJECTOR_OPTIONS, loadWebhookConfig, WEBHOOK_OPTIONS } from '../injector/config.js';
import { fileCertSource } from '../injector/tls.js';
import type { CertSource } from '../injector/cert-source.js';
import { startWebhook } from '../injector/webhook-server.js';
import { onShutdownSignals } from '../lifecycle/signals.js';
import { createLogger } from '../telemetry/logger.js';
import { EXIT_CONFIG, loadOrReport, wantsHelp } from './load-config.js';

/** `auth-shim webhook`: validate everything, then answer AdmissionReviews until SIGTERM/SIGINT. */
export async function runWebhook(args: string[]): Promise<number | undefined> {
  if (wantsHelp(args)) {
    process.stdout.write(`${optionsHelp('webhook', 'the sidecar injector (mutating admission webhook)', { ...INJECTOR_OPTIONS, ...WEBHOOK_OPTIONS })}\n`);
    return 0;
  }
  const config = loadOrReport('webhook', () => loadWebhookConfig(process.env, args));
  if (config === undefined) return EXIT_CONFIG;
  const { injector, webhook } = config;
  const log = createLogger(webhook.logLevel);
  let certs: CertSource;
  if (webhook.tlsMode === 'auto') {
    const { autoCertSource } = await import('../injector/auto-cert.js');
    certs = autoCertSource({
      namespace: injector.namespace as string,
      secretName: webhook.tlsSecret,
      webhookConfiguration: webhook.webhookConfiguration,
      service: webhook.service,
      checkIntervalMs: webhook.certCheckIntervalMs,
      log,
    });
  } else {
    certs = fileCertSource({
      certFile: webhook.tlsCertFile as string,
      keyFile: webhook.tlsKeyFile as string,
      intervalMs: webhook.tlsReloadIntervalMs,
    });
  }
  const server = await startWebhook({
    injector,
    listen: webhook.listen,
    adminListen: webhook.adminListen,
    maxBodyBytes: webhook.maxBodyBytes,
    requestTimeoutMs: webhook.requestTimeoutMs,
    drainTimeoutMs: webhook.drainTimeoutMs,
    certs,
    log,
  });
  return onShutdownSignals(log, () => server.shutdown());
}
