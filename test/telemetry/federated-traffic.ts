import { startFakeAnthropic } from '../../src/demo/fake-anthropic.js';
import { createFakeTokenEndpoint, createTestIssuer, FEDERATION_IDS } from '../helpers/fake-token-endpoint.js';
import { type Shim, startShim } from '../helpers/shim.js';

/**
 * A sidecar with Workload Identity Federation after one accepted and one refused exchange, so that its
 * /metrics shows the federation series with the labels the alerts match on.
 */
export async function runFederatedScript(): Promise<{ shim: Shim; close(): Promise<void> }> {
  const issuer = await createTestIssuer();
  const fake = await startFakeAnthropic();
  const endpoint = createFakeTokenEndpoint({ keys: { jwks: issuer.jwks }, issuer: issuer.issuer });
  endpoint.attach(fake);
  const shim = await startShim({
    upstream: fake,
    files: { token: await issuer.sign() },
    env: {
      AUTH_SHIM_IDENTITY_TOKEN_FILE: '{dir}/token',
      AUTH_SHIM_FEDERATION_RULE_ID: FEDERATION_IDS.federationRuleId,
      AUTH_SHIM_ORGANIZATION_ID: FEDERATION_IDS.organizationId,
      AUTH_SHIM_SERVICE_ACCOUNT_ID: FEDERATION_IDS.serviceAccountId,
    },
  });
  endpoint.refuse = { status: 400, error: 'invalid_grant', description: 'refused for the script' };
  await shim.proxy.credentials.reloadAll();
  return {
    shim,
    async close() {
      await shim.close();
      await fake.close();
    },
  };
}
