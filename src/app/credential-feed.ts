import type { ProxyConfig } from '../config/proxy-config.js';
import { fileFeed } from '../credentials/file-feed.js';
import { secretFeed } from '../credentials/secret-feed.js';
import type { CredentialFeed } from '../credentials/store.js';
import type { Logger } from '../telemetry/logger.js';
import type { CredentialSlot } from '../vocabulary/credentials.js';

/** Files (the default) or one Secret through the Kubernetes API; none when no slot is configured. */
export function credentialFeed(config: ProxyConfig, log: Logger): CredentialFeed | undefined {
  if (config.secret !== undefined) return secretFeed({ ref: config.secret, keys: config.secretKeys, log });
  const files = { oauth: config.oauthTokenFile, apiKey: config.apiKeyFile, litellmKey: config.litellmKeyFile };
  if (Object.values(files).every((f) => f === undefined)) return undefined;
  return fileFeed({
    files: Object.fromEntries(Object.entries(files).filter(([, f]) => f !== undefined)) as Partial<
      Record<CredentialSlot, string>
    >,
    intervalMs: config.reloadIntervalMs,
  });
}
