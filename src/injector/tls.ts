import { readFile } from 'node:fs/promises';
import { coalescedReload, watchFiles, type FileWatch } from '../credentials/watch-files.js';
import { checkServingCert, type CertReloadResult, type CertSource, type ServingCert } from './cert-source.js';

export interface CertFilesOptions {
  readonly certFile: string;
  readonly keyFile: string;
  readonly intervalMs: number;
  readonly debounceMs?: number;
  /** Called with every new good pair; the server swaps its secure context (vault-k8s: one reference). */
  readonly onCert: (cert: ServingCert) => void;
  readonly onReload?: (result: CertReloadResult, error?: string) => void;
}

export interface CertFiles {
  current(): ServingCert | undefined;
  /** Why no certificate is in use yet (readiness). */
  problem(): string | undefined;
  reload(): Promise<void>;
  stop(): void;
}

/**
 * Certificate files (cert-manager's Secret mount) reloaded on rotation through the same
 * kubelet-aware directory watcher as the credentials. A half-written pair (new cert, old key)
 * fails the check and the last good pair stays in use until the next event or poll.
 */
export async function watchCertFiles(opts: CertFilesOptions): Promise<CertFiles> {
  let current: ServingCert | undefined;
  let problem: string | undefined = 'certificate not loaded yet';

  async function readOnce(): Promise<void> {
    try {
      // Both reads settle before anything is reported, so a message names every missing file, in
      // the same order every time.
      const [certRead, keyRead] = await Promise.allSettled([
        readFile(opts.certFile, 'utf8'),
        readFile(opts.keyFile, 'utf8'),
      ]);
      if (certRead.status === 'rejected' || keyRead.status === 'rejected') {
        const failures = [certRead, keyRead].flatMap((r) =>
          r.status === 'rejected' ? [describeReadError(r.reason)] : [],
        );
        throw new Error(failures.join('; '));
      }
      const cert = certRead.value;
      const key = keyRead.value;
      if (current !== undefined && current.cert === cert && current.key === key) {
        opts.onReload?.('unchanged');
        return;
      }
      let pair: ServingCert;
      try {
        pair = checkServingCert(cert, key);
      } catch (err) {
        throw new Error(
          `${opts.certFile} and ${opts.keyFile} are not a usable certificate and key: ${(err as Error).message}`,
        );
      }
      current = pair;
      problem = undefined;
      opts.onCert(pair);
      opts.onReload?.('loaded');
    } catch (err) {
      const message = (err as Error).message;
      if (current === undefined) problem = message;
      opts.onReload?.('error', message);
    }
  }

  // Overlapping reloads coalesce so an older read never lands after a newer one.
  const reload = coalescedReload<void>(readOnce);

  await reload();
  const watch: FileWatch = watchFiles([opts.certFile, opts.keyFile], () => void reload(), {
    intervalMs: opts.intervalMs,
    debounceMs: opts.debounceMs ?? 100,
  });
  return {
    current: () => current,
    problem: () => problem,
    reload: () => reload(),
    stop: () => watch.stop(),
  };
}

/** `files` mode as the webhook server's certificate source. */
export function fileCertSource(opts: Omit<CertFilesOptions, 'onCert' | 'onReload'>): CertSource {
  let files: CertFiles | undefined;
  return {
    async start(hooks) {
      files = await watchCertFiles({ ...opts, onCert: hooks.onCert, onReload: hooks.onReload });
    },
    problem: () => (files === undefined ? 'certificate not loaded yet' : files.problem()),
    stop: () => files?.stop(),
  };
}

function describeReadError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code === 'ENOENT'
    ? `${e.path ?? 'certificate file'} does not exist`
    : `${e.path ?? 'certificate file'} cannot be read (${e.code ?? e.message})`;
}
