import type { InjectorConfig, WebhookConfig } from '../injector/config.js';
import type { CertSource } from '../injector/cert-source.js';
import { fileCertSource } from '../injector/tls.js';
import { startWebhook, type RunningWebhook } from '../injector/webhook-server.js';
import type { Logger } from '../telemetry/logger.js';

/**
 * Assembles the webhook: picks the certificate source (files from cert-manager, or `auto`, whose
 * @kubernetes/client-node is loaded only in that mode), then the AdmissionReview server around it.
 */
export async function startWebhookApp(
  config: { injector: InjectorConfig; webhook: WebhookConfig },
  log: Logger,
): Promise<RunningWebhook> {
  const { injector, webhook } = config;
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
  return startWebhook({
    injector,
    listen: webhook.listen,
    adminListen: webhook.adminListen,
    maxBodyBytes: webhook.maxBodyBytes,
    requestTimeoutMs: webhook.requestTimeoutMs,
    drainTimeoutMs: webhook.drainTimeoutMs,
    certs,
    log,
  });
}
