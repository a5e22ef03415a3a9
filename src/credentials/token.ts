/** What a credential is, decided by its prefix alone — never by the header it arrived in. */
export type CredentialKind = 'oauth' | 'api-key';

/** Subscription OAuth access tokens (`claude setup-token`, the interactive login). */
export const OAUTH_PREFIX = 'sk-ant-oat';
/** Metered Anthropic API keys. */
export const API_KEY_PREFIX = 'sk-ant-api';
/** Any Anthropic-issued secret, including refresh tokens (`sk-ant-ort…`) and admin keys. */
export const ANTHROPIC_SECRET_PREFIX = 'sk-ant-';

/**
 * Anthropic tokens are one base64url-style word. A value holding more (`sk-ant-oat…,sk-ant-api…`,
 * a second key after a tab) is not a credential: forwarded whole, the extra secret would reach the
 * upstream (test/reliability/regressions/compound-client-credential.test.ts).
 */
const TOKEN_WORD = /^[A-Za-z0-9_-]+$/;

/** Classifies a raw token; `undefined` means "not an Anthropic credential we forward". */
export function classifyToken(token: string): CredentialKind | undefined {
  if (!TOKEN_WORD.test(token)) return undefined;
  if (token.startsWith(OAUTH_PREFIX)) return 'oauth';
  if (token.startsWith(API_KEY_PREFIX)) return 'api-key';
  return undefined;
}

/**
 * A header value must be visible ASCII with no spaces for a token: a CR/LF would split the header
 * (header injection), and a space usually means two values were pasted into one Secret.
 */
const TOKEN_CHARS = /^[\x21-\x7e]+$/;

export type TokenSlot = 'oauth' | 'api-key' | 'litellm-key';

/**
 * Checks a value read from a Secret for its slot; returns the problem (never quoting the value),
 * or `undefined` when the value is usable. The caller trims first.
 */
export function tokenProblem(slot: TokenSlot, value: string): string | undefined {
  if (value.length === 0) return 'is empty';
  if (/[\r\n]/.test(value)) return 'has more than one line';
  if (!TOKEN_CHARS.test(value)) return 'contains characters that are not allowed in an HTTP header (spaces or non-ASCII)';
  const kind = classifyToken(value);
  if (slot !== 'litellm-key' && kind === undefined && value.startsWith(ANTHROPIC_SECRET_PREFIX)) {
    return 'contains characters that are not part of an Anthropic token (a comma or space usually means two values in one Secret)';
  }
  switch (slot) {
    case 'oauth':
      if (kind === 'oauth') return undefined;
      return kind === 'api-key'
        ? `holds an Anthropic API key (${API_KEY_PREFIX}…), expected a subscription OAuth token (${OAUTH_PREFIX}…)`
        : `is not a subscription OAuth token (expected ${OAUTH_PREFIX}…)`;
    case 'api-key':
      if (kind === 'api-key') return undefined;
      return kind === 'oauth'
        ? `holds a subscription OAuth token (${OAUTH_PREFIX}…), expected an Anthropic API key (${API_KEY_PREFIX}…)`
        : `is not an Anthropic API key (expected ${API_KEY_PREFIX}…)`;
    case 'litellm-key':
      // LiteLLM forwards its key header to Anthropic, so an Anthropic secret here would leak.
      if (value.startsWith(ANTHROPIC_SECRET_PREFIX)) {
        return `holds an Anthropic credential (${ANTHROPIC_SECRET_PREFIX}…), expected a LiteLLM virtual key`;
      }
      return undefined;
  }
}

/** Trims what a Secret file typically carries around the value (a trailing newline or CRLF). */
export function normaliseSecret(raw: string): string {
  return raw.trim();
}

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
  return looksSecret(value) ? '"<a value that looks like a secret, not shown>"' : JSON.stringify(value.length > 200 ? `${value.slice(0, 200)}…` : value);
}
