/**
 * Why a pod was not injected, as a code: the `reason` label of `auth_shim_webhook_reviews_total` and a
 * field of the review log line, so an operator sees from metrics which rule left pods alone (the way
 * linkerd's `pkg/inject/report.go` names its reasons). The message beside it stays free text.
 */
export const SKIP_REASONS = {
  not_pod_kind: 'the object is not a Pod (only Pods are injected)',
  not_create: "the operation is not CREATE (a running pod's containers cannot change)",
  no_pod_spec: 'the object has no pod spec',
  invalid_containers: 'spec.containers is not a non-empty list of named containers',
  already_injected: "the pod carries the injector's status annotation and its sidecar",
  injection_disabled: 'the pod says `auth-shim.io/inject: "false"`',
  not_requested: 'neither the pod nor its namespace asked for injection',
  protected_namespace: 'kube-system, kube-public and kube-node-lease are never injected',
  injector_namespace: "the injector's own namespace is never injected",
  host_network: "hostNetwork: the sidecar's ports would clash on the node",
  sidecar_name_taken: "a container already has the sidecar's name",
  port_clash: 'a container declares a port the sidecar uses',
  no_upstream: "no upstream URL from the pod or the injector's default",
} as const;

export type SkipCode = keyof typeof SKIP_REASONS;

/** The Markdown table of skip codes (docs/INJECTION.md, `npm run docs`). */
export function skipReasonsMarkdown(): string {
  const rows = Object.entries(SKIP_REASONS).map(([code, meaning]) => `| \`${code}\` | ${meaning} |`);
  return ['| `reason` | meaning |', '|---|---|', ...rows].join('\n');
}
