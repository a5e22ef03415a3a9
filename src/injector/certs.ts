import { webcrypto, X509Certificate } from 'node:crypto';
import { checkServingCert, type ServingCert } from './cert-source.js';

/**
 * A private CA and a serving certificate for `auto` TLS mode, made with @peculiar/x509 (loaded
 * only when called: `files` mode and the sidecar never pay for it). ECDSA P-256: small, fast, and
 * accepted by every API server.
 */

export interface CertBundle extends ServingCert {
  readonly caCert: string;
  readonly caKey: string;
}

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 86_400_000;
export const CA_DAYS = 3650;
export const LEAF_DAYS = 365;
/** Renew a serving certificate that has less than this left. */
export const RENEW_BEFORE_MS = 30 * DAY;

async function x509lib() {
  // @peculiar/x509 (via tsyringe) needs the Reflect metadata API loaded first.
  await import('reflect-metadata');
  const x509 = await import('@peculiar/x509');
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  return x509;
}

async function exportKey(key: webcrypto.CryptoKey): Promise<string> {
  const x509 = await x509lib();
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

/** The DNS names the API server may use for a Service-backed webhook. */
export function serviceDnsNames(service: string, namespace: string): string[] {
  return [
    service,
    `${service}.${namespace}`,
    `${service}.${namespace}.svc`,
    `${service}.${namespace}.svc.cluster.local`,
  ];
}

export async function generateCa(now = new Date()): Promise<{ caCert: string; caKey: string }> {
  const x509 = await x509lib();
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=auth-shim webhook CA',
    notBefore: new Date(now.getTime() - 5 * 60_000),
    notAfter: new Date(now.getTime() + CA_DAYS * DAY),
    keys: keys as never,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as never),
    ],
  });
  return { caCert: cert.toString('pem'), caKey: await exportKey(keys.privateKey) };
}

export async function issueServingCert(
  ca: { caCert: string; caKey: string },
  dnsNames: readonly string[],
  now = new Date(),
): Promise<CertBundle> {
  const x509 = await x509lib();
  const caCert = new x509.X509Certificate(ca.caCert);
  const caKey = await webcrypto.subtle.importKey('pkcs8', x509.PemConverter.decodeFirst(ca.caKey), ALG, false, [
    'sign',
  ]);
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.create({
    subject: `CN=${dnsNames[0] ?? 'auth-shim-webhook'}`,
    issuer: caCert.subject,
    notBefore: new Date(now.getTime() - 5 * 60_000),
    notAfter: new Date(Math.min(now.getTime() + LEAF_DAYS * DAY, caCert.notAfter.getTime())),
    publicKey: keys.publicKey as never,
    signingKey: caKey as never,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(dnsNames.map((value) => ({ type: 'dns' as const, value }))),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as never),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  const pem = cert.toString('pem');
  return { ...checkServingCert(pem, await exportKey(keys.privateKey)), caCert: ca.caCert, caKey: ca.caKey };
}

/**
 * Why a stored bundle cannot be used as it is, or `undefined` when it can: the key matches, the
 * CA signed the certificate, every DNS name is covered, and it is not close to expiry.
 */
export function bundleProblem(
  b: Partial<CertBundle>,
  dnsNames: readonly string[],
  now = new Date(),
): string | undefined {
  if (b.cert === undefined || b.key === undefined || b.caCert === undefined) return 'incomplete';
  try {
    const leaf = new X509Certificate(b.cert);
    const ca = new X509Certificate(b.caCert);
    checkServingCert(b.cert, b.key);
    if (!leaf.verify(ca.publicKey)) return 'certificate not signed by the stored CA';
    const missing = dnsNames.filter((n) => leaf.checkHost(n, { subject: 'never' }) === undefined);
    if (missing.length > 0) return `certificate does not cover ${missing.join(', ')}`;
    if (new Date(leaf.validTo).getTime() - now.getTime() < RENEW_BEFORE_MS) return 'certificate expires within 30 days';
    return undefined;
  } catch (err) {
    return `unreadable: ${(err as Error).message}`;
  }
}

/** A CA that can still sign a full-length serving certificate. */
export function caUsable(b: Partial<CertBundle>, now = new Date()): boolean {
  if (b.caCert === undefined || b.caKey === undefined) return false;
  try {
    return new Date(new X509Certificate(b.caCert).validTo).getTime() - now.getTime() > (LEAF_DAYS + 30) * DAY;
  } catch {
    return false;
  }
}
