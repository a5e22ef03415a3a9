import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/child.js';

const trace = fileURLToPath(new URL('../helpers/trace-imports.mjs', import.meta.url));

async function importsKubernetesClient(env: Record<string, string>): Promise<boolean> {
  const shim = runCli(
    ['proxy'],
    {
      AUTH_SHIM_UPSTREAM_URL: 'http://127.0.0.1:9',
      AUTH_SHIM_LISTEN: '127.0.0.1:0',
      AUTH_SHIM_ADMIN_LISTEN: '127.0.0.1:0',
      KUBECONFIG: '/nonexistent',
      ...env,
    },
    ['--import', trace],
  );
  await shim.listening;
  await new Promise((r) => setTimeout(r, 200)); // let a lazy import, if any, happen
  shim.child.kill('SIGTERM');
  await shim.exited;
  return shim.stderr.join('').includes('TRACE-IMPORT');
}

describe('@kubernetes/client-node is loaded only where the Kubernetes API is needed', () => {
  it('the file-based sidecar never loads it', async () => {
    expect(await importsKubernetesClient({})).toBe(false);
  });

  it('the Kubernetes API mode does (the control for the assertion above)', async () => {
    expect(
      await importsKubernetesClient({ AUTH_SHIM_SECRET: 'agents/creds', AUTH_SHIM_SECRET_OAUTH_TOKEN_KEY: 'token' }),
    ).toBe(true);
  });
});
