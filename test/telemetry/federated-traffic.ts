import { createTestIssuer, federationEnv, startFederatedAnthropic } from '../helpers/fake-token-endpoint.js';
import { type Shim, startShim } from '../helpers/shim.js';

/**
 * A sidecar with Workload Identity Federation after one accepted and one refused exchange, so that its
 * /metrics shows the federation series with the labels the alerts match on.
 */
export async function runFederatedScript(): Promise<{ shim: Shim; close(): Promise<void> }> {
  const issuer = await createTestIssuer();
  const { fake, endpoint } = await startFederatedAnthropic({ keys: { jwks: issuer.jwks }, issuer: issuer.issuer });
  const shim = await startShim({
    upstream: fake,
    files: { token: await issuer.sign() },
    env: federationEnv('{dir}/token'),
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
