import { startWebhookApp } from '../app/webhook.js';
import { optionsHelp } from '../config/options.js';
import { INJECTOR_OPTIONS, loadWebhookConfig, WEBHOOK_OPTIONS } from '../injector/config.js';
import { onShutdownSignals } from '../lifecycle/signals.js';
import { createLogger } from '../telemetry/logger.js';
import { EXIT_CONFIG, loadOrReport, wantsHelp } from './load-config.js';

/** `auth-shim webhook`: validate everything, then answer AdmissionReviews until SIGTERM/SIGINT. */
export async function runWebhook(args: string[]): Promise<number | undefined> {
  if (wantsHelp(args)) {
    process.stdout.write(
      `${optionsHelp('webhook', 'the sidecar injector (mutating admission webhook)', {
        ...INJECTOR_OPTIONS,
        ...WEBHOOK_OPTIONS,
      })}\n`,
    );
    return 0;
  }
  const config = loadOrReport('webhook', () => loadWebhookConfig(process.env, args));
  if (config === undefined) return EXIT_CONFIG;
  const log = createLogger(config.webhook.logLevel);
  const server = await startWebhookApp(config, log);
  return onShutdownSignals(log, () => server.shutdown());
}
