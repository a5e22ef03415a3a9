import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { INJECTOR_OPTIONS, loadWebhookConfig } from '../../src/injector/config.js';
import { resolvedEnv, webhookContainer } from '../chart/_env.js';
import { find, parseManifests, renderChart, type K8sObject } from '../chart/_render.js';
import { runCli } from '../helpers/child.js';
import { DEPLOY, kustomize } from './_kustomize.js';

/** The stand-in third-party agent chart deploy/agent-chart's HelmRelease installs. */
export const AGENT_CHART = join(import.meta.dirname, 'fixtures', 'agent-chart');

/**
 * The injector settings of the webhook deploy/flux/auth-shim installs (its HelmRelease's values,
 * rendered by the chart), as the env `auth-shim inject` reads. `dir` holds the values file.
 */
export async function injectorEnv(dir: string): Promise<Record<string, string>> {
  const release = find(await kustomize(join(DEPLOY, 'flux/auth-shim')), 'HelmRelease');
  await writeFile(join(dir, 'injector-values.yaml'), stringify((release['spec'] as { values: unknown }).values));
  const env = resolvedEnv(webhookContainer(await renderChart(['-f', join(dir, 'injector-values.yaml')])).env);
  loadWebhookConfig(env, []); // the same settings the webhook would run with
  const injectorEnvs = new Set<string>(Object.values(INJECTOR_OPTIONS).map((o) => o.env));
  return Object.fromEntries(Object.entries(env).filter(([k]) => injectorEnvs.has(k)));
}

/** `auth-shim inject --all <file>` (the built CLI) → parsed objects. */
export async function inject(file: string, env: Record<string, string>): Promise<K8sObject[]> {
  const shim = runCli(['inject', '--all', file], env);
  const { code } = await shim.exited;
  if (code !== 0) throw new Error(`auth-shim inject failed (${code}): ${shim.stderr.join('')}`);
  return parseManifests(shim.stdout.join('\n'));
}
