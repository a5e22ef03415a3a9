import type { ProxyConfig } from '../config/proxy-config.js';
import type { Logger } from '../telemetry/logger.js';
import { fileFeed } from './file-feed.js';
import { secretFeed } from './secret-feed.js';
import type { CredentialSlot } from '../vocabulary/credentials.js';
import type { CredentialFeed } from './store.js';

/** The slots this configuration provides, each named by its source (for readiness messages). */
export function credentialSlots(config: ProxyConfig): Partial<Record<CredentialSlot, string>> {
  const slots: Partial<Record<CredentialSlot, string>> = {};
  if (config.secret !== undefined) {
    const where = `Secret ${config.secret.namespace}/${config.secret.name}`;
    for (const [slot, key] of Object.entries(config.secretKeys) as Array<[CredentialSlot, string]>) slots[slot] = `${where} key "${key}"`;
    return slots;
  }
  if (config.oauthTokenFile !== undefined) slots.oauth = `AUTH_SHIM_OAUTH_TOKEN_FILE (${config.oauthTokenFile})`;
  if (config.apiKeyFile !== undefined) slots.apiKey = `AUTH_SHIM_API_KEY_FILE (${config.apiKeyFile})`;
  if (config.litellmKeyFile !== undefined) slots.litellmKey = `AUTH_SHIM_LITELLM_KEY_FILE (${config.litellmKeyFile})`;
  return slots;
}

/** Files (the default) or one Secret through the Kubernetes API; none when no slot is configured. */
export function credentialFeed(config: ProxyConfig, log: Logger): CredentialFeed | undefined {
  if (config.secret !== undefined) return secretFeed({ ref: config.secret, keys: config.secretKeys, log });
  const files = { oauth: config.oauthTokenFile, apiKey: config.apiKeyFile, litellmKey: config.litellmKeyFile };
  if (Object.values(files).every((f) => f === undefined)) return undefined;
  return fileFeed({ files: Object.fromEntries(Object.entries(files).filter(([, f]) => f !== undefined)) as Partial<Record<CredentialSlot, string>>, intervalMs: config.reloadIntervalMs });
}
