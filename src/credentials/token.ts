import {
  ANTHROPIC_SECRET_PREFIX,
  API_KEY_PREFIX,
  classifyToken,
  OAUTH_PREFIX,
  type SlotName,
} from '../vocabulary/credentials.js';

/**
 * A header value must be visible ASCII with no spaces for a token: a CR/LF would split the header
 * (header injection), and a space usually means two values were pasted into one Secret.
 */
const TOKEN_CHARS = /^[\x21-\x7e]+$/;

/**
 * Checks a value read from a Secret for its slot; returns the problem (never quoting the value),
 * or `undefined` when the value is usable. The caller trims first.
 */
export function tokenProblem(slot: SlotName, value: string): string | undefined {
  if (value.length === 0) return 'is empty';
  if (/[\r\n]/.test(value)) return 'has more than one line';
  if (!TOKEN_CHARS.test(value))
    return 'contains characters that are not allowed in an HTTP header (spaces or non-ASCII)';
  const kind = classifyToken(value);
  if (slot !== 'litellm-key' && kind === undefined && value.startsWith(ANTHROPIC_SECRET_PREFIX)) {
    return (
      'contains characters that are not part of an Anthropic token ' +
      '(a comma or space usually means two values in one Secret)'
    );
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
