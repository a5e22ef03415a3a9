import { optionsHelp } from '../config/options.js';
import { loadProxyConfig } from '../config/proxy-config.js';
import { PROXY_OPTIONS } from '../config/proxy-options.js';
import { KnownSecrets } from '../credentials/known-secrets.js';
import { startProxy } from '../app/sidecar.js';
import { createLogger } from '../telemetry/logger.js';
import { onShutdownSignals } from '../lifecycle/signals.js';
import { EXIT_CONFIG, loadOrReport, wantsHelp } from './load-config.js';

/** `auth-shim proxy`: validate everything, then listen until SIGTERM/SIGINT drains it. */
export async function runProxy(args: string[]): Promise<number | undefined> {
  if (wantsHelp(args)) {
    process.stdout.write(`${optionsHelp('proxy', 'the credential-translating sidecar', PROXY_OPTIONS)}\n`);
    return 0;
  }
  const config = loadOrReport('proxy', () => loadProxyConfig(process.env, args));
  if (config === undefined) return EXIT_CONFIG;
  const secrets = new KnownSecrets();
  const log = createLogger(config.logLevel, undefined, secrets.mask);
  const proxy = await startProxy(config, { log, secrets });
  return onShutdownSignals(log, () => proxy.shutdown());
}
