import { isIP } from 'node:net';
import type { Parsed } from './options.js';
import { looksSecret, quoteValue } from '../vocabulary/redaction.js';

/** Value parsers shared by every subcommand; each message names the variable and the rule. */

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export function ok<T>(value: T): Parsed<T> {
  return { value };
}

export function problem<T>(message: string): Parsed<T> {
  return { problem: message };
}

export function httpUrl(raw: string, env: string): Parsed<URL> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return problem(`${env} must be an http(s) URL, got ${quoteValue(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return problem(`${env} must be an http(s) URL, got ${quoteValue(raw)}`);
  }
  // Never echo a URL that carries credentials.
  if (url.username !== '' || url.password !== '') return problem(`${env} must not contain a user or password`);
  if (url.search !== '' || url.hash !== '') return problem(`${env} must not have a query string or fragment`);
  return ok(url);
}

/**
 * An upstream URL for logs and `check` output: the origin, and of the path only segments that read
 * like names (`/anthropic`, `/v1`, `/litellm-prod`); any other segment — mixed case, more than
 * three digits, longer than 32, `sk-…`, percent-encoded — is shown as `***`, as a gateway may
 * carry a key in its path (issue 15, item 10). User info and query never get this far (httpUrl
 * refuses them).
 */
export function displayUrl(url: URL): string {
  const path = url.pathname.replace(/\/+$/, '');
  const shown = path
    .split('/')
    .map((seg) => (seg === '' || isPlainSegment(seg) ? seg : '***'))
    .join('/');
  return url.origin + shown;
}

function isPlainSegment(seg: string): boolean {
  return (
    /^[a-z][a-z0-9._-]{0,31}$/.test(seg) &&
    (seg.match(/[0-9]/g)?.length ?? 0) <= 3 &&
    !looksSecret(seg) &&
    !seg.startsWith('sk-')
  );
}

/** `host:port`, `[::1]:port` or `:port`; port 0 picks a free port (tests). */
export function hostPort(raw: string, env: string): Parsed<HostPort> {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(raw);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (m === null || host === undefined || !(port >= 0 && port <= 65535)) {
    return problem(`${env} must be host:port (e.g. 127.0.0.1:8787), got ${quoteValue(raw)}`);
  }
  return ok({ host: host === '' ? '0.0.0.0' : host, port });
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

export function positiveMs(raw: string, env: string): Parsed<number> {
  if (!/^\d+$/.test(raw) || Number(raw) <= 0 || !Number.isSafeInteger(Number(raw))) {
    return problem(`${env} must be a whole number of milliseconds greater than 0, got ${quoteValue(raw)}`);
  }
  return ok(Number(raw));
}

export function positiveInt(unit: string) {
  return (raw: string, env: string): Parsed<number> => {
    if (!/^\d+$/.test(raw) || Number(raw) <= 0 || !Number.isSafeInteger(Number(raw))) {
      return problem(`${env} must be a whole number of ${unit} greater than 0, got ${quoteValue(raw)}`);
    }
    return ok(Number(raw));
  };
}

export function nonNegativeInt(unit: string) {
  return (raw: string, env: string): Parsed<number> => {
    if (!/^\d+$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
      return problem(`${env} must be a whole number of ${unit} (0 or more), got ${quoteValue(raw)}`);
    }
    return ok(Number(raw));
  };
}

export function oneOf<T extends string>(choices: readonly T[]) {
  return (raw: string, env: string): Parsed<T> =>
    (choices as readonly string[]).includes(raw)
      ? ok(raw as T)
      : problem(`${env} must be one of ${choices.join(', ')}, got ${quoteValue(raw)}`);
}

/** A comma-separated subset of `choices`, at least one, no repeats. */
export function subsetOf<T extends string>(choices: readonly T[]) {
  return (raw: string, env: string): Parsed<T[]> => {
    const items = raw
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    const bad = items.filter((i) => !(choices as readonly string[]).includes(i));
    if (items.length === 0 || bad.length > 0) {
      return problem(`${env} must be a comma-separated list of ${choices.join(', ')}, got ${quoteValue(raw)}`);
    }
    return ok([...new Set(items)] as T[]);
  };
}

export function commaList(raw: string): Parsed<string[]> {
  return ok(
    raw
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
  );
}

export function filePath(raw: string, env: string): Parsed<string> {
  // The most common mistake: the secret itself instead of the path of the file that holds it.
  if (looksSecret(raw)) return problem(`${env} must be the path of a file holding the secret, not the secret itself`);
  if (raw.includes('\0')) return problem(`${env} must be a file path`);
  return ok(raw);
}

/** RFC 9110 token characters. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export function headerName(raw: string, env: string): Parsed<string> {
  return HEADER_NAME.test(raw)
    ? ok(raw.toLowerCase())
    : problem(`${env} must be an HTTP header name, got ${quoteValue(raw)}`);
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const logLevel = oneOf(LOG_LEVELS);

/** An RFC 3339 timestamp, e.g. `2027-01-31T00:00:00Z`. */
export function timestamp(raw: string, env: string): Parsed<Date> {
  const ms = Date.parse(raw);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(raw) || Number.isNaN(ms)) {
    return problem(`${env} must be an RFC 3339 timestamp like 2027-01-31T00:00:00Z, got ${quoteValue(raw)}`);
  }
  return ok(new Date(ms));
}

/**
 * An identifier of a fixed shape (Workload Identity Federation's `fdrl_…`, `svac_…`, `wrkspc_…`, a UUID);
 * `shape` is how the message describes it.
 */
export function shapedId(pattern: RegExp, shape: string) {
  return (raw: string, env: string): Parsed<string> =>
    pattern.test(raw) ? ok(raw) : problem(`${env} must be ${shape}, got ${quoteValue(raw)}`);
}

/** A file path that is not the JWT itself (pasted by mistake it would be echoed in "cannot be read"). */
export function jwtFilePath(raw: string, env: string): Parsed<string> {
  if (/^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+/.test(raw.trim()))
    return problem(`${env} must be the path of a file holding the token, not the token itself`);
  return filePath(raw, env);
}
