import type { CredentialSlot } from '../vocabulary/credentials.js';
import type { ProxyConfig } from './proxy-config.js';

/** The slots this configuration provides, each named by its source (for readiness messages). */
export function credentialSlots(config: ProxyConfig): Partial<Record<CredentialSlot, string>> {
  const slots: Partial<Record<CredentialSlot, string>> = {};
  // Federation fills the OAuth slot whichever source provides the others (issue 17).
  if (config.federation) slots.oauth = `Workload Identity Federation (${config.federationRuleId})`;
  if (config.secret !== undefined) {
    const where = `Secret ${config.secret.namespace}/${config.secret.name}`;
    for (const [slot, key] of Object.entries(config.secretKeys) as Array<[CredentialSlot, string]>)
      slots[slot] = `${where} key "${key}"`;
    return slots;
  }
  if (config.oauthTokenFile !== undefined) slots.oauth = `AUTH_SHIM_OAUTH_TOKEN_FILE (${config.oauthTokenFile})`;
  if (config.apiKeyFile !== undefined) slots.apiKey = `AUTH_SHIM_API_KEY_FILE (${config.apiKeyFile})`;
  if (config.litellmKeyFile !== undefined) slots.litellmKey = `AUTH_SHIM_LITELLM_KEY_FILE (${config.litellmKeyFile})`;
  return slots;
}
