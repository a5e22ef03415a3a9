import { ConfigError, optionsHelp } from '../config/options.js';
import { loadProxyConfig, PROXY_OPTIONS } from '../config/proxy-config.js';
import { startProxy } from '../proxy/app.js';
import { createLogger } from '../telemetry/logger.js';
import { onShutdownSignals } from '../lifecycle/signals.js';

/** `auth-shim proxy`: validate everything, then listen until SIGTERM/SIGINT drains it. */
export async function runProxy(args: string[]): Promise<number | undefined> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${optionsHelp('proxy', 'the credential-translating sidecar', PROXY_OPTIONS)}\n`);
    return 0;
  }
  let config;
  try {
    config = loadProxyConfig(process.env, args);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`auth-shim proxy: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  const proxy = await startProxy(config, { log });
  return onShutdownSignals(log, () => proxy.shutdown());
}
