import type { ResponseHead } from '../vocabulary/response.js';
import { HOP_BY_HOP } from './hop-by-hop.js';

/** Response hop-by-hop headers: they describe the upstream hop, not ours. */
const RESPONSE_HOP_BY_HOP = new Set([...HOP_BY_HOP, 'proxy-connection']);

/**
 * Copies the upstream's response headers minus hop-by-hop ones, in one pass. Every other header —
 * `request-id`, `retry-after`, `x-should-retry`, `anthropic-ratelimit-*` — passes unchanged;
 * Claude Code reads the subscription-limit state only from the un-prefixed unified headers.
 * Values are decoded as latin1 so any byte the upstream sent is written back as the same byte.
 */
export function copyResponseHeaders(raw: ReadonlyArray<Buffer | string>): ResponseHead {
  let connectionListed: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (text(raw[i]).toLowerCase() === 'connection') {
      connectionListed ??= new Set();
      for (const t of text(raw[i + 1]).split(',')) connectionListed.add(t.trim().toLowerCase());
    }
  }
  const headers: string[] = [];
  let contentType = '';
  let contentLength: number | undefined;
  let contentEncoding = '';
  let requestId: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = text(raw[i]);
    const lower = name.toLowerCase();
    if (RESPONSE_HOP_BY_HOP.has(lower) || connectionListed?.has(lower)) continue;
    const value = text(raw[i + 1]);
    if (lower === 'content-type') contentType = value.toLowerCase();
    else if (lower === 'content-length') contentLength = Number(value);
    else if (lower === 'content-encoding') contentEncoding = value.trim().toLowerCase();
    else if (lower === 'request-id') requestId = value;
    headers.push(name, value);
  }
  return { headers, contentType, contentLength, contentEncoding, requestId };
}

/** Replaces (or adds) a header in a flat list; names compare case-insensitively. */
export function setHeader(headers: string[], name: string, value: string): void {
  for (let i = 0; i < headers.length; i += 2) {
    if ((headers[i] as string).toLowerCase() === name) {
      headers[i + 1] = value;
      return;
    }
  }
  headers.push(name, value);
}

/** Removes every occurrence of a header from a flat list; names compare case-insensitively. */
export function removeHeader(headers: string[], name: string): void {
  for (let i = headers.length - 2; i >= 0; i -= 2) {
    if ((headers[i] as string).toLowerCase() === name) headers.splice(i, 2);
  }
}

function text(v: Buffer | string | undefined): string {
  return v === undefined ? '' : typeof v === 'string' ? v : v.toString('latin1');
}
