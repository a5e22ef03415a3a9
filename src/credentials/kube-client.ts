import type { KubeConfig } from '@kubernetes/client-node';

/**
 * The Kubernetes client set-up the Secret feed and the webhook's `auto` certificates share.
 * @kubernetes/client-node is imported only here and only when such a mode runs: it adds about 70 MB
 * to node_modules and much start-up memory (its package size on the npm registry), and the proxy's
 * default file mode never needs it.
 */
export async function kubeClient(kubeConfig?: KubeConfig) {
  const k8s = await import('@kubernetes/client-node');
  const kc = kubeConfig ?? new k8s.KubeConfig();
  if (kubeConfig === undefined) kc.loadFromDefault(); // KUBECONFIG, ~/.kube/config, or the pod's service account
  return { k8s, kc };
}

/** The HTTP status of a failed API call (`ApiException.code`; `statusCode` on older error shapes). */
export function apiStatus(err: unknown): number | undefined {
  const e = err as { code?: unknown; statusCode?: unknown } | null;
  const c = e?.code ?? e?.statusCode;
  return typeof c === 'number' ? c : undefined;
}
