/**
 * What an allowlist entry of AUTH_SHIM_ALLOWED_PATHS is: configuration validates entries with it, the proxy
 * compiles them. Imports nothing of the project.
 */

/** The Messages API, token counting and model listing: what Claude Code and the SDK call. */
export const DEFAULT_ALLOWED_PATHS = ['/v1/messages', '/v1/messages/count_tokens', '/v1/models', '/v1/models/{id}'];

/** A `{param}` segment of an allowlist entry. */
export const PATH_PLACEHOLDER = /^\{[A-Za-z_][A-Za-z0-9_]*\}$/;
const LITERAL_SEGMENT = /^[A-Za-z0-9._~:@+-]+$/;

/** Problems with an allowlist entry from configuration (empty list means the entry is usable). */
export function allowedPathProblems(entry: string): string[] {
  if (!entry.startsWith('/')) return [`"${entry}" must start with /`];
  if (entry.includes('?')) return [`"${entry}" must not contain a query string`];
  const segments = entry.slice(1).split('/');
  const problems: string[] = [];
  for (const s of segments) {
    if (s === '' || s === '.' || s === '..') problems.push(`"${entry}" has an empty, . or .. segment`);
    else if (!PATH_PLACEHOLDER.test(s) && !LITERAL_SEGMENT.test(s))
      problems.push(`"${entry}" has an invalid segment "${s}"`);
  }
  return problems;
}
