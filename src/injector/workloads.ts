/**
 * Where the pod lives in each kind `auth-shim inject` understands. A path is a list of keys from
 * the document root to the pod (or pod template: `{ metadata, spec }`).
 */

export type Path = readonly (string | number)[];

const TEMPLATE_PATHS: Record<string, Path> = {
  Pod: [],
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  ReplicationController: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

export const WORKLOAD_KINDS = Object.keys(TEMPLATE_PATHS);

export interface PodSite {
  /** From the document root to the pod or pod template. */
  readonly path: Path;
  readonly kind: string;
  readonly name: string;
  readonly namespace: string | undefined;
  readonly pod: unknown;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function getIn(root: unknown, path: Path): unknown {
  let cur = root;
  for (const k of path) {
    if (typeof k === 'number' ? !Array.isArray(cur) : !isObject(cur)) return undefined;
    cur = (cur as Record<string | number, unknown>)[k];
  }
  return cur;
}

/** Every pod site in a document; a `List`'s items are searched one level deep. */
export function podSites(doc: unknown, prefix: Path = []): PodSite[] {
  if (!isObject(doc) || typeof doc['kind'] !== 'string') return [];
  const kind = doc['kind'];
  if (kind === 'List' || kind.endsWith('List')) {
    const items = Array.isArray(doc['items']) ? doc['items'] : [];
    return prefix.length === 0 ? items.flatMap((item, i) => podSites(item, ['items', i])) : [];
  }
  const rel = TEMPLATE_PATHS[kind];
  if (rel === undefined) return [];
  const pod = getIn(doc, rel);
  if (!isObject(pod)) return [];
  const meta = isObject(doc['metadata']) ? doc['metadata'] : {};
  return [
    {
      path: [...prefix, ...rel],
      kind,
      name: typeof meta['name'] === 'string' ? meta['name'] : '(unnamed)',
      namespace: typeof meta['namespace'] === 'string' ? meta['namespace'] : undefined,
      pod,
    },
  ];
}
