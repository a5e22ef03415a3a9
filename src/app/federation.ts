import type { ProxyConfig } from '../config/proxy-config.js';
import { credentialSlots } from '../config/credential-slots.js';
import { type FederationEvents, type FederationFeed, federationFeed } from '../credentials/federation-feed.js';
import type { ExchangeSettings } from '../credentials/token-exchange.js';
import type { Logger } from '../telemetry/logger.js';

/** One exchange may take this long, connect to last byte; the feed retries after it. */
export const EXCHANGE_TIMEOUT_MS = 10_000;

/** The exchange's settings from a proxy configuration with federation on (`undefined` when it is off). */
export function exchangeSettings(config: ProxyConfig): ExchangeSettings | undefined {
  const { identityTokenFile, federationRuleId, organizationId, serviceAccountId, tokenUrl } = config;
  if (
    !config.federation ||
    identityTokenFile === undefined ||
    federationRuleId === undefined ||
    organizationId === undefined ||
    serviceAccountId === undefined ||
    tokenUrl === undefined
  )
    return undefined;
  return {
    tokenUrl,
    identityTokenFile,
    federationRuleId,
    organizationId,
    serviceAccountId,
    workspaceId: config.workspaceId,
    timeoutMs: EXCHANGE_TIMEOUT_MS,
  };
}

/**
 * The LiteLLM key header for the exchange: sent like on every call when the token endpoint is the upstream's
 * (through LiteLLM, the default), never to another origin — it is LiteLLM's key, not Anthropic's.
 */
export function exchangeKeyHeader(config: ProxyConfig): string | undefined {
  const sendsKey = credentialSlots(config).litellmKey !== undefined;
  return sendsKey && config.tokenUrl?.origin === config.upstream.origin ? config.litellmKeyHeader : undefined;
}

/** The federation feed of a sidecar, or `undefined` when federation is off. */
export function sidecarFederation(
  config: ProxyConfig,
  log: Logger,
  events: FederationEvents,
): FederationFeed | undefined {
  const settings = exchangeSettings(config);
  if (settings === undefined) return undefined;
  return federationFeed({
    settings,
    litellmKeyHeader: exchangeKeyHeader(config),
    source: credentialSlots(config).oauth ?? 'Workload Identity Federation',
    log,
    events,
  });
}
