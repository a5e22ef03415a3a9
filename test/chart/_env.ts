import { find, NAMESPACE, type K8sObject } from './_render.js';

/** The webhook container of a rendered release, and the environment the kubelet would give it. */

export type EnvVar = { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } };

export function webhookContainer(
  objects: readonly K8sObject[],
): { args: string[]; env: EnvVar[] } & Record<string, unknown> {
  const d = find(objects, 'Deployment') as unknown as {
    spec: {
      template: { spec: { containers: ({ name: string; args: string[]; env: EnvVar[] } & Record<string, unknown>)[] } };
    };
  };
  const c = d.spec.template.spec.containers.find((x) => x.name === 'webhook');
  if (c === undefined) throw new Error('no webhook container');
  return c;
}

/** The environment the kubelet would give the container (downward API resolved). */
export function resolvedEnv(env: readonly EnvVar[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of env) {
    if (e.value !== undefined) out[e.name] = e.value;
    else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace') out[e.name] = NAMESPACE;
    else throw new Error(`${e.name}: unsupported valueFrom ${JSON.stringify(e.valueFrom)}`);
  }
  return out;
}
