import type { KubeConfig, V1Secret } from '@kubernetes/client-node';
import { apiStatus, kubeClient } from '../credentials/kube-client.js';
import type { Logger } from '../telemetry/logger.js';
import { bundleProblem, caUsable, generateCa, issueServingCert, serviceDnsNames, type CertBundle } from './certs.js';
import type { CertHooks, CertSource } from './cert-source.js';

/**
 * `auto` TLS mode (vault-k8s style): a CA and serving certificate kept in one Secret that every
 * replica shares, and the CA written into the MutatingWebhookConfiguration's `caBundle`.
 *
 * Several replicas starting at once race only through the API server: each reads the Secret; the
 * first to `create` wins and the others get 409 Conflict, read the winner's Secret and use it.
 * Renewal uses `replace` with the read `resourceVersion`, so a lost race is again a 409 and a
 * re-read. The CA key is stored too, so a renewed serving certificate keeps the same CA and the
 * `caBundle` does not change under replicas that have not re-read yet.
 * @kubernetes/client-node is loaded only when this mode runs (src/credentials/kube-client.ts says why).
 */

export interface AutoCertOptions {
  readonly namespace: string;
  readonly secretName: string;
  readonly webhookConfiguration: string;
  readonly service: string;
  readonly checkIntervalMs: number;
  readonly log: Logger;
  /** Tests point this at a fake API server; otherwise in-cluster / `KUBECONFIG`. */
  readonly kubeConfig?: KubeConfig;
}

const KEYS = { cert: 'tls.crt', key: 'tls.key', caCert: 'ca.crt', caKey: 'ca.key' } as const;
const MAX_ATTEMPTS = 5;

function fromSecret(s: V1Secret | undefined): Partial<CertBundle> {
  const out: Record<string, string> = {};
  for (const [field, key] of Object.entries(KEYS)) {
    const v = s?.data?.[key];
    if (v !== undefined) out[field] = Buffer.from(v, 'base64').toString('utf8');
  }
  return out as Partial<CertBundle>;
}

function toData(b: CertBundle): Record<string, string> {
  const data: Record<string, string> = {};
  for (const [field, key] of Object.entries(KEYS))
    data[key] = Buffer.from(b[field as keyof typeof KEYS]).toString('base64');
  return data;
}

/** One pass: make sure the Secret holds a usable bundle, return it, and point `caBundle` at its CA. */
export async function ensureCertificate(opts: AutoCertOptions): Promise<CertBundle> {
  const { k8s, kc } = await kubeClient(opts.kubeConfig);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const dnsNames = serviceDnsNames(opts.service, opts.namespace);
  const ref = { name: opts.secretName, namespace: opts.namespace };

  let bundle: CertBundle | undefined;
  for (let attempt = 1; bundle === undefined; attempt++) {
    if (attempt > MAX_ATTEMPTS)
      throw new Error(`Secret ${opts.namespace}/${opts.secretName}: still conflicting after ${MAX_ATTEMPTS} attempts`);
    let existing: V1Secret | undefined;
    try {
      existing = await core.readNamespacedSecret(ref);
    } catch (err) {
      if (apiStatus(err) !== 404)
        throw new Error(`reading Secret ${opts.namespace}/${opts.secretName}: ${(err as Error).message}`);
    }
    const stored = fromSecret(existing);
    const problem = existing === undefined ? 'absent' : bundleProblem(stored, dnsNames);
    if (problem === undefined) {
      bundle = stored as CertBundle;
      break;
    }
    const ca = caUsable(stored)
      ? { caCert: stored.caCert as string, caKey: stored.caKey as string }
      : await generateCa();
    const fresh = await issueServingCert(ca, dnsNames);
    const body: V1Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: opts.secretName,
        namespace: opts.namespace,
        labels: { 'app.kubernetes.io/managed-by': 'auth-shim' },
      },
      type: 'kubernetes.io/tls',
      data: toData(fresh),
    };
    try {
      if (existing === undefined) {
        await core.createNamespacedSecret({ namespace: opts.namespace, body });
      } else {
        body.metadata = { ...body.metadata, resourceVersion: existing.metadata?.resourceVersion ?? '' };
        await core.replaceNamespacedSecret({ ...ref, body });
      }
      opts.log.info(
        { event: 'certificate_stored', secret: `${opts.namespace}/${opts.secretName}`, why: problem },
        'stored a new serving certificate',
      );
      bundle = fresh;
    } catch (err) {
      // Another replica wrote first: use theirs on the next pass.
      if (apiStatus(err) !== 409)
        throw new Error(`writing Secret ${opts.namespace}/${opts.secretName}: ${(err as Error).message}`);
      opts.log.info(
        { event: 'certificate_race_lost', secret: `${opts.namespace}/${opts.secretName}` },
        'another replica stored the certificate first',
      );
    }
  }

  return bundle;
}

/**
 * Writes the CA into every entry of the MutatingWebhookConfiguration that does not have it yet.
 * Replicas all write the same value, so concurrent patches converge; a lost race is retried.
 */
export async function ensureCaBundle(opts: AutoCertOptions, caCert: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await patchCaBundle(opts, caCert);
      return;
    } catch (err) {
      if (
        attempt >= MAX_ATTEMPTS ||
        (apiStatus((err as Error).cause) !== 422 && apiStatus((err as Error).cause) !== 409)
      )
        throw err;
    }
  }
}

async function patchCaBundle(opts: AutoCertOptions, caCert: string): Promise<void> {
  const { k8s, kc } = await kubeClient(opts.kubeConfig);
  const api = kc.makeApiClient(k8s.AdmissionregistrationV1Api);
  const name = opts.webhookConfiguration;
  let config;
  try {
    config = await api.readMutatingWebhookConfiguration({ name });
  } catch (err) {
    throw new Error(`reading MutatingWebhookConfiguration ${name}: ${(err as Error).message}`);
  }
  const caBundle = Buffer.from(caCert).toString('base64');
  const webhooks = config.webhooks ?? [];
  const ops = webhooks.flatMap((w, i) =>
    w.clientConfig.caBundle === caBundle
      ? []
      : [{ op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: caBundle }],
  );
  if (ops.length === 0) return;
  // `test` on resourceVersion: if another writer changed the configuration since the read, the
  // patch fails (422) rather than writing to an entry that moved; the caller reads again.
  const body = [{ op: 'test', path: '/metadata/resourceVersion', value: config.metadata?.resourceVersion }, ...ops];
  try {
    await api.patchMutatingWebhookConfiguration(
      { name, body },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
    );
  } catch (err) {
    throw new Error(`patching caBundle of MutatingWebhookConfiguration ${name}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  opts.log.info({ event: 'ca_bundle_patched', webhookConfiguration: name, webhooks: ops.length }, 'caBundle patched');
}

/** `auto` mode as the webhook server's certificate source: ensure now, then re-check periodically. */
export function autoCertSource(opts: AutoCertOptions): CertSource {
  let problem: string | undefined = 'certificate not generated yet';
  let current: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let failures = 0;
  let caBundleWritten = false;

  async function check({ onCert, onReload }: CertHooks): Promise<void> {
    try {
      const b = await ensureCertificate(opts);
      if (b.cert !== current) {
        current = b.cert;
        onCert(b);
        onReload('loaded');
      } else {
        onReload('unchanged');
      }
      // Serving starts before the caBundle is written: until it is, the API server cannot verify
      // us anyway, and a failed patch must not stop the certificate from being used. Ready waits
      // for the first write, though (issue 14): otherwise `helm install --wait` can return while the
      // API server still cannot call us, and pods created then are admitted uninjected (Ignore) or
      // refused with an x509 error (Fail).
      const notWritten = `caBundle of MutatingWebhookConfiguration ${opts.webhookConfiguration} not written`;
      if (!caBundleWritten) problem = `${notWritten} yet`;
      await ensureCaBundle(opts, b.caCert).catch((err: unknown) => {
        throw new Error(`${notWritten}: ${(err as Error).message}`, { cause: err });
      });
      caBundleWritten = true;
      problem = undefined;
      failures = 0;
    } catch (err) {
      failures++;
      const message = (err as Error).message;
      if (current === undefined || !caBundleWritten) problem = message;
      onReload('error', message);
    }
    if (stopped) return;
    // Retry a failure soon (with backoff), otherwise wait the full interval.
    const delay =
      failures === 0 ? opts.checkIntervalMs : Math.min(opts.checkIntervalMs, 1000 * 2 ** Math.min(failures, 6));
    timer = setTimeout(() => void check({ onCert, onReload }), delay);
    timer.unref();
  }

  return {
    start: (hooks) => check(hooks),
    problem: () => problem,
    stop: () => {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
    },
  };
}
