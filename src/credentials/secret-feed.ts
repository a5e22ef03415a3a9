import type { Logger } from 'pino';
import { parseCredential, type ReadOutcome } from './read-credential.js';
import { slotName, type CredentialSlot } from '../vocabulary/credentials.js';
import type { CredentialFeed, CredentialStore } from './store.js';
import { backoffDelay } from './backoff.js';
import { apiStatus, kubeClient } from './kube-client.js';

export interface SecretRef {
  readonly namespace: string;
  readonly name: string;
}

export interface SecretFeedOptions {
  readonly ref: SecretRef;
  /** Secret data key per slot. */
  readonly keys: Partial<Record<CredentialSlot, string>>;
  readonly log: Logger;
  /** Server-side watch duration; the watch is resumed from the last resourceVersion after it. */
  readonly watchSeconds?: number;
  readonly backoffInitialMs?: number;
  readonly backoffMaxMs?: number;
}

interface SecretObject {
  metadata?: { resourceVersion?: string };
  data?: Record<string, string>;
}

/**
 * Credentials from one Secret through the Kubernetes API — for clusters where a rotation must apply
 * within seconds rather than the kubelet's ~60–90 s. Reads the Secret, then watches it by
 * `fieldSelector=metadata.name=…` (client-node's informer has no field selector). The client's
 * watch stops on anything but a clean close, so every end is followed by a restart: a clean
 * server-side close resumes from the last resourceVersion; an error backs off and re-reads first.
 * Every event carries the whole Secret, so all keys are applied as one batch.
 * @kubernetes/client-node is imported here only, and only in this mode: it costs tens of MB.
 */
export function secretFeed(opts: SecretFeedOptions): CredentialFeed {
  const { ref, keys, log } = opts;
  const where = `Secret ${ref.namespace}/${ref.name}`;
  const initialMs = opts.backoffInitialMs ?? 500;
  const maxMs = opts.backoffMaxMs ?? 30_000;
  let store: CredentialStore | undefined;
  let api: Awaited<ReturnType<typeof connect>> | undefined;
  let resourceVersion: string | undefined;
  let abort: AbortController | undefined;
  let timer: NodeJS.Timeout | undefined;
  let failures = 0;
  let stopped = false;

  function batchFrom(secret: SecretObject | undefined, problem?: string): Map<CredentialSlot, ReadOutcome> {
    const batch = new Map<CredentialSlot, ReadOutcome>();
    for (const [slot, key] of Object.entries(keys) as Array<[CredentialSlot, string | undefined]>) {
      if (key === undefined) continue;
      if (problem !== undefined) {
        batch.set(slot, { ok: false, missing: false, unreadable: true, problem });
        continue;
      }
      const encoded = secret?.data?.[key];
      if (encoded === undefined) {
        batch.set(slot, {
          ok: false,
          missing: true,
          problem: secret === undefined ? `${where} does not exist` : `${where} has no key "${key}"`,
        });
        continue;
      }
      batch.set(
        slot,
        parseCredential(Buffer.from(encoded, 'base64').toString('utf8'), slotName(slot), `${where} key "${key}"`),
      );
    }
    return batch;
  }

  async function read(): Promise<void> {
    const a = (api ??= await connect());
    try {
      const secret = (await a.core.readNamespacedSecret({ name: ref.name, namespace: ref.namespace })) as SecretObject;
      resourceVersion = secret.metadata?.resourceVersion;
      store?.apply(batchFrom(secret));
    } catch (err) {
      const code = apiStatus(err);
      if (code === 404) {
        resourceVersion = undefined;
        store?.apply(batchFrom(undefined));
        return;
      }
      const hint = code === 403 ? ' (RBAC: get, list and watch on this Secret are needed)' : '';
      store?.apply(batchFrom(undefined, `${where} cannot be read: ${code ?? (err as Error).message}${hint}`));
      throw err;
    }
  }

  async function watch(): Promise<void> {
    const a = (api ??= await connect());
    const w = new a.k8s.Watch(a.kc);
    // The client aborts a watch after 30 s without data (a private default); a quiet Secret would
    // then be re-listed every 30 s by every pod. Let the server end it instead (timeoutSeconds).
    const seconds = opts.watchSeconds ?? 300;
    (w as unknown as { requestTimeoutMs: number }).requestTimeoutMs = (seconds + 30) * 1000;
    const params: Record<string, string | number | boolean | undefined> = {
      fieldSelector: `metadata.name=${ref.name}`,
      allowWatchBookmarks: true,
      timeoutSeconds: seconds,
      resourceVersion,
    };
    abort = await w.watch(
      `/api/v1/namespaces/${encodeURIComponent(ref.namespace)}/secrets`,
      params,
      (phase, obj: SecretObject & { code?: number }) => {
        if (phase === 'ERROR') {
          // 410 Gone: our resourceVersion is too old; re-read and start over.
          resourceVersion = undefined;
          return;
        }
        failures = 0;
        if (obj.metadata?.resourceVersion !== undefined) resourceVersion = obj.metadata.resourceVersion;
        if (phase === 'ADDED' || phase === 'MODIFIED') store?.apply(batchFrom(obj));
        else if (phase === 'DELETED') store?.apply(batchFrom(undefined));
      },
      (err: unknown) => {
        if (stopped) return;
        if (err === null || err === undefined) {
          schedule(resourceVersion === undefined, 0);
        } else {
          failures++;
          log.warn(
            { event: 'secret_watch_failed', secret: `${ref.namespace}/${ref.name}`, failures, err: describe(err) },
            'Secret watch ended; restarting',
          );
          schedule(true, backoff());
        }
      },
    );
  }

  function backoff(): number {
    return backoffDelay(failures, initialMs, maxMs);
  }

  /** Restarts the watch, re-reading the Secret first when events may have been missed. */
  function schedule(reread: boolean, delayMs: number): void {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      const run = reread ? read().then(watch) : watch();
      run.catch((err: unknown) => {
        failures++;
        log.warn(
          { event: 'secret_read_failed', secret: `${ref.namespace}/${ref.name}`, failures, err: describe(err) },
          'Secret read failed; retrying',
        );
        schedule(true, backoff());
      });
    }, delayMs);
    timer.unref();
  }

  return {
    async start(s) {
      store = s;
      try {
        await read();
        await watch();
      } catch (err) {
        failures++;
        log.warn(
          { event: 'secret_read_failed', secret: `${ref.namespace}/${ref.name}`, err: describe(err) },
          'Secret not readable yet; retrying',
        );
        schedule(true, backoff());
      }
    },
    async refresh() {
      await read();
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
      abort?.abort();
    },
  };
}

async function connect() {
  const { k8s, kc } = await kubeClient();
  return { k8s, kc, core: kc.makeApiClient(k8s.CoreV1Api) };
}

/** Error text for logs: the client's messages can embed response bodies, so keep it short. */
function describe(err: unknown): string {
  const code = apiStatus(err);
  if (code !== undefined) return `HTTP ${code}`;
  const msg = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return msg.slice(0, 200);
}
