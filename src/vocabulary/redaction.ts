/** Redaction helpers every layer uses for what it writes (messages, logs); imports nothing of the project. */

/** A printable stand-in for a secret: its well-known prefix and length, never a secret character. */
export function maskSecret(value: string): string {
  const prefix = /^sk-ant-[a-z]{3}\d{2}-/.exec(value)?.[0] ?? (value.startsWith('sk-') ? 'sk-' : '');
  return `${prefix}***(${value.length} chars)`;
}

/** True for values shaped like an API secret (`sk-…`): they must never be echoed. */
export function looksSecret(value: string): boolean {
  return /(^|[^A-Za-z0-9])sk-[A-Za-z0-9_-]{8,}/.test(value);
}

/** A value quoted for an error message, or a mask when it looks like a secret. */
export function quoteValue(value: string): string {
  return looksSecret(value)
    ? '"<a value that looks like a secret, not shown>"'
    : JSON.stringify(value.length > 200 ? `${value.slice(0, 200)}…` : value);
}
