import { join } from 'node:path';
import { parseManifests, type K8sObject } from '../chart/_render.js';
import { REPO_ROOT, run } from '../helpers/helm.js';

export const DEPLOY = join(REPO_ROOT, 'deploy');

/** `kubectl kustomize <dir>` (the kubectl on PATH; kustomize is built in) → parsed objects. */
export async function kustomize(dir: string): Promise<K8sObject[]> {
  const r = await run('kubectl', ['kustomize', dir]);
  if (r.code !== 0) throw new Error(`kubectl kustomize ${dir} failed:\n${r.stderr}`);
  return parseManifests(r.stdout);
}
