import { X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';

/** The webhook's serving certificate as its sources (files, auto) and its server share it. */

/** A key pair the server can use, already checked to match. */
export interface ServingCert {
  readonly cert: string;
  readonly key: string;
  readonly notAfter: Date;
}

/** Throws a readable error when the PEMs do not form a usable pair. */
export function checkServingCert(cert: string, key: string): ServingCert {
  // createSecureContext rejects a key that does not match the certificate.
  createSecureContext({ cert, key });
  return { cert, key, notAfter: new Date(new X509Certificate(cert).validTo) };
}

/** What one look at the certificate source found (label of the webhook's reload metric). */
export type CertReloadResult = 'loaded' | 'unchanged' | 'error';

export interface CertHooks {
  readonly onCert: (cert: ServingCert) => void;
  readonly onReload: (result: CertReloadResult, error?: string) => void;
}

/** Where the serving certificate comes from: files (cert-manager) or auto (generated, in a Secret). */
export interface CertSource {
  /** Loads the first certificate (or records why it could not) and keeps it current via `onCert`. */
  start(hooks: CertHooks): Promise<void>;
  /** Why no certificate is in use yet; `undefined` once one is. */
  problem(): string | undefined;
  stop(): void;
}
