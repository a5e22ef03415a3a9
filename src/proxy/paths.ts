import { PATH_PLACEHOLDER } from '../vocabulary/path-patterns.js';
import { quoteValue } from '../vocabulary/redaction.js';

/**
 * Which request targets may reach the upstream. The LiteLLM key is attached to every forwarded
 * request, so any route outside the allowlist (LiteLLM's `/key/*`, `/user/*`, other pass-throughs)
 * must be unreachable — through traversal, encoding tricks or absolute-form targets included.
 * The allowlist's grammar and defaults: vocabulary/path-patterns.ts.
 */

/** A model id or similar path parameter: no `%`, `/`, `\`, and never `.` or `..` on its own. */
const PARAM_SEGMENT = /^[A-Za-z0-9._~:@+-]+$/;

/**
 * `route` is the allowlist entry that matched (`/v1/models/{id}`): logs name the route, never the
 * concrete path, whose parameters are client data (and could be anything, a pasted token included).
 */
export type PathVerdict =
  | { readonly ok: true; readonly path: string; readonly query: string; readonly route: string }
  | { readonly ok: false; readonly reason: string };

export interface PathPolicy {
  check(target: string): PathVerdict;
}

/** Compiles the allowlist: exact paths go in a Set, `{param}` patterns match one safe segment. */
export function createPathPolicy(allowed: readonly string[]): PathPolicy {
  const exact = new Set<string>();
  const patterns: Array<{ route: string; segments: string[] }> = [];
  for (const entry of allowed) {
    const segments = entry.slice(1).split('/');
    if (segments.some((s) => PATH_PLACEHOLDER.test(s))) patterns.push({ route: entry, segments });
    else exact.add(entry);
  }

  function matchPattern(path: string): string | undefined {
    if (patterns.length === 0) return undefined;
    const segments = path.slice(1).split('/');
    outer: for (const { route, segments: p } of patterns) {
      if (p.length !== segments.length) continue;
      for (let i = 0; i < p.length; i++) {
        const want = p[i] as string;
        const got = segments[i] as string;
        if (PATH_PLACEHOLDER.test(want)) {
          if (!PARAM_SEGMENT.test(got) || got === '.' || got === '..') continue outer;
        } else if (want !== got) continue outer;
      }
      return route;
    }
    return undefined;
  }

  return {
    check(target) {
      // Origin-form only (RFC 9112 §3.2.1): absolute-form `http://…` and authority-form targets
      // would let a client choose the host the LiteLLM key is sent to.
      if (target.charCodeAt(0) !== 0x2f /* / */) return reject('the request target must be a path starting with /');
      const q = target.indexOf('?');
      const path = q < 0 ? target : target.slice(0, q);
      const query = q < 0 ? '' : target.slice(q);
      if (exact.has(path)) return { ok: true, path, query, route: path };
      const reason = suspicious(path);
      if (reason !== undefined) return reject(reason);
      const route = matchPattern(path);
      if (route !== undefined) return { ok: true, path, query, route };
      return reject(`path ${printable(path)} is not forwarded by auth-shim (allowed: ${allowed.join(', ')})`);
    },
  };
}

/** Names the trick a path uses, so the error says more than "not found". */
function suspicious(path: string): string | undefined {
  if (path.startsWith('//')) return 'the request target must not start with // (it would name another host)';
  if (path.includes('\\') || /%5c/i.test(path)) return 'the path must not contain backslashes';
  if (/%2f/i.test(path)) return 'the path must not contain encoded slashes';
  if (/(^|\/)(\.|%2e){1,2}(\/|$)/i.test(path)) return 'the path must not contain . or .. segments';
  if (path.includes('//')) return 'the path must not contain empty segments';
  return undefined;
}

/** Paths are echoed in errors; cap and escape them so the error stays one readable line. */
function printable(path: string): string {
  return quoteValue(path);
}

function reject(reason: string): PathVerdict {
  return { ok: false, reason };
}
