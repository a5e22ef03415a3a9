/**
 * The credential vocabulary every layer shares: kinds, slots and source policies, one type and one name each.
 * Imports nothing of the project (docs/ARCHITECTURE.md "Layers").
 */

/** What a credential is, decided by its prefix alone — never by the header it arrived in. */
export type CredentialKind = 'oauth' | 'api-key';
export const CREDENTIAL_KINDS: readonly CredentialKind[] = ['oauth', 'api-key'];

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

/** The three credentials the shim may hold: the key in snapshots, configuration and the injector's annotations. */
export type CredentialSlot = 'oauth' | 'apiKey' | 'litellmKey';
export const CREDENTIAL_SLOTS: readonly CredentialSlot[] = ['oauth', 'apiKey', 'litellmKey'];

/** A slot's name in validation messages and metric labels (`slot="api-key"`). */
export type SlotName = 'oauth' | 'api-key' | 'litellm-key';
const SLOT_NAME: Readonly<Record<CredentialSlot, SlotName>> = {
  oauth: 'oauth',
  apiKey: 'api-key',
  litellmKey: 'litellm-key',
};

export function slotName(slot: CredentialSlot): SlotName {
  return SLOT_NAME[slot];
}

/** The credentials the shim holds itself (one consistent snapshot for a whole request). */
export type ShimCredentials = { readonly [S in CredentialSlot]?: string | undefined };

/**
 * Whose Anthropic credential a request carries upstream (AUTH_SHIM_CREDENTIAL_SOURCE, the
 * `auth-shim.io/credential-source` annotation): `client-first`, `shim-only` or `client-only`.
 */
export type CredentialSourcePolicy = 'client-first' | 'shim-only' | 'client-only';
export const CREDENTIAL_SOURCE_POLICIES: readonly CredentialSourcePolicy[] = [
  'client-first',
  'shim-only',
  'client-only',
];

/** Where the credential of one forwarded request came from (the policy's outcome for that request). */
export type CredentialOrigin = 'client' | 'shim';
