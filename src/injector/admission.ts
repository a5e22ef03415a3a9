import type { InjectorConfig } from './config.js';
import { mutate, type Mutation } from './mutate.js';
import type { SkipCode } from './skip-reasons.js';
import { isObject } from '../vocabulary/guards.js';

/**
 * AdmissionReview `admission.k8s.io/v1` in and out, pure. @kubernetes/client-node has no
 * AdmissionReview type (admission.k8s.io is not in the API server's OpenAPI spec its models are generated
 * from), so the few fields used are checked here.
 */

export interface AdmissionRequest {
  readonly uid: string;
  readonly kind: { readonly group: string; readonly version: string; readonly kind: string };
  readonly operation: string;
  readonly namespace: string;
  readonly object: unknown;
  readonly dryRun: boolean;
  readonly name: string | undefined;
}

export interface AdmissionResponse {
  readonly uid: string;
  readonly allowed: boolean;
  readonly patchType?: 'JSONPatch';
  readonly patch?: string;
  readonly warnings?: string[];
  readonly status?: { readonly code: number; readonly message: string; readonly reason?: string };
}

export interface AdmissionReviewOut {
  readonly apiVersion: 'admission.k8s.io/v1';
  readonly kind: 'AdmissionReview';
  readonly response: AdmissionResponse;
}

/** The request of a review, or why it is not one (→ HTTP 400 with that reason). */
export function parseAdmissionReview(body: unknown): { request: AdmissionRequest } | { problem: string } {
  if (!isObject(body)) return { problem: 'body must be a JSON object (an AdmissionReview)' };
  if (body['apiVersion'] !== 'admission.k8s.io/v1' || body['kind'] !== 'AdmissionReview') {
    return {
      problem:
        'expected apiVersion admission.k8s.io/v1, kind AdmissionReview; got ' +
        `${JSON.stringify(body['apiVersion'])}, ${JSON.stringify(body['kind'])} ` +
        '(register the webhook with admissionReviewVersions: ["v1"])',
    };
  }
  const r = body['request'];
  if (!isObject(r)) return { problem: 'AdmissionReview has no request' };
  if (typeof r['uid'] !== 'string' || r['uid'] === '') return { problem: 'request.uid must be a non-empty string' };
  const kind = r['kind'];
  if (!isObject(kind) || typeof kind['kind'] !== 'string' || typeof kind['version'] !== 'string') {
    return { problem: 'request.kind must be {group, version, kind}' };
  }
  if (typeof r['operation'] !== 'string') return { problem: 'request.operation must be a string' };
  if (r['namespace'] !== undefined && typeof r['namespace'] !== 'string')
    return { problem: 'request.namespace must be a string' };
  if (r['dryRun'] !== undefined && typeof r['dryRun'] !== 'boolean')
    return { problem: 'request.dryRun must be a boolean' };
  return {
    request: {
      uid: r['uid'],
      kind: {
        group: typeof kind['group'] === 'string' ? kind['group'] : '',
        version: kind['version'],
        kind: kind['kind'],
      },
      operation: r['operation'],
      namespace: typeof r['namespace'] === 'string' ? r['namespace'] : '',
      object: r['object'],
      dryRun: r['dryRun'] === true,
      name: typeof r['name'] === 'string' ? r['name'] : undefined,
    },
  };
}

export type Decision = 'injected' | 'skipped' | 'denied';

export interface Review {
  readonly review: AdmissionReviewOut;
  readonly decision: Decision;
  /** The skip reason or the denial, for the log line. */
  readonly reason: string | undefined;
  /** Why it was skipped, as a code (metric label); only for `skipped`. */
  readonly skipCode?: SkipCode;
}

/** Kubernetes may truncate warnings past 256 characters; each is prefixed so users know whose it is. */
function warning(text: string): string {
  const w = `auth-shim: ${text}`;
  return w.length > 256 ? `${w.slice(0, 255)}…` : w;
}

function answer(uid: string, response: Omit<AdmissionResponse, 'uid'>): AdmissionReviewOut {
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid, ...response } };
}

/**
 * Decides one review. Pods only, on CREATE only: a running pod's containers cannot change, and
 * anything else is let through untouched with a warning. The mutation has no side effects, so a
 * `dryRun` review gets the same answer (the caller just does not count it as an injection).
 */
export function review(req: AdmissionRequest, config: InjectorConfig, namespaceOptedIn: boolean): Review {
  const skipped = (skipCode: SkipCode, reason: string, warn: boolean): Review => ({
    review: answer(
      req.uid,
      warn ? { allowed: true, warnings: [warning(`not injected: ${reason}`)] } : { allowed: true },
    ),
    decision: 'skipped',
    reason,
    skipCode,
  });
  if (req.kind.group !== '' || req.kind.kind !== 'Pod') {
    const gvk = `${req.kind.group === '' ? '' : `${req.kind.group}/`}${req.kind.version} ${req.kind.kind}`;
    return skipped('not_pod_kind', `auth-shim injects Pods only, got ${gvk}`, true);
  }
  if (req.operation !== 'CREATE')
    return skipped('not_create', `pods are injected on CREATE only, got ${req.operation}`, true);

  const m: Mutation = mutate({ pod: req.object, namespace: req.namespace, namespaceOptedIn, config });
  switch (m.outcome) {
    case 'skipped':
      return skipped(m.code, m.reason, m.warn);
    case 'invalid': {
      const message = `auth-shim cannot inject this pod: ${m.problems.join('; ')}`;
      return {
        review: answer(req.uid, { allowed: false, status: { code: 400, reason: 'BadRequest', message } }),
        decision: 'denied',
        reason: message,
      };
    }
    case 'injected': {
      const out: Omit<AdmissionResponse, 'uid'> = {
        allowed: true,
        patchType: 'JSONPatch',
        patch: Buffer.from(JSON.stringify(m.patch)).toString('base64'),
        ...(m.warnings.length > 0 ? { warnings: m.warnings.map(warning) } : {}),
      };
      return { review: answer(req.uid, out), decision: 'injected', reason: undefined };
    }
  }
}
