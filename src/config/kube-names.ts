import { quoteValue } from '../vocabulary/redaction.js';
import type { Parsed } from './options.js';
import { ok, problem } from './parsers.js';

/** Kubernetes object-name rules (DNS-1123), shared by every subcommand's configuration. */
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function isSecretName(s: string): boolean {
  return s.length <= 253 && DNS_SUBDOMAIN.test(s);
}

/** Secret data keys: `[-._a-zA-Z0-9]+`, and never `.`/`..`-prefixed (the kubelet's own `..data`). */
export function isSecretKey(s: string): boolean {
  return s.length <= 253 && /^[-._a-zA-Z0-9]+$/.test(s) && !s.startsWith('..') && s !== '.';
}

export function secretName(raw: string, env: string): Parsed<string> {
  return isSecretName(raw)
    ? ok(raw)
    : problem(`${env} must be a Secret name (lowercase DNS subdomain), got ${quoteValue(raw)}`);
}

export function secretKey(raw: string, env: string): Parsed<string> {
  return isSecretKey(raw) ? ok(raw) : problem(`${env} must be a Secret key ([-._a-zA-Z0-9]+), got ${quoteValue(raw)}`);
}

export function dnsLabel(raw: string, env: string): Parsed<string> {
  return raw.length <= 63 && DNS_LABEL.test(raw)
    ? ok(raw)
    : problem(`${env} must be a lowercase DNS label, got ${quoteValue(raw)}`);
}

export function isDnsLabel(s: string): boolean {
  return s.length <= 63 && DNS_LABEL.test(s);
}

/** `<namespace>/<name>` of a Secret. */
export function secretRef(raw: string, env: string): Parsed<{ namespace: string; name: string }> {
  const [namespace, name, ...rest] = raw.split('/');
  if (
    rest.length > 0 ||
    namespace === undefined ||
    name === undefined ||
    !isDnsLabel(namespace) ||
    !isSecretName(name)
  ) {
    return problem(`${env} must be <namespace>/<name> of a Secret, got ${quoteValue(raw)}`);
  }
  return ok({ namespace, name });
}
