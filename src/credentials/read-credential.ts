import { readFile } from 'node:fs/promises';
import type { SlotName } from '../vocabulary/credentials.js';
import { normaliseSecret, tokenProblem } from './token.js';

/** A Secret key is a few hundred bytes; anything this large is the wrong file. */
export const MAX_CREDENTIAL_FILE_BYTES = 64 * 1024;

export type ReadOutcome =
  | { readonly ok: true; readonly value: string; readonly expiresAt?: Date | undefined }
  | { readonly ok: false; readonly missing: boolean; readonly unreadable?: boolean; readonly problem: string };

/**
 * Reads one credential from a file and validates it for its slot. The problem text never contains
 * the value. The OAuth slot also accepts Claude Code's `.credentials.json` shape
 * (`{"claudeAiOauth":{"accessToken":…,"expiresAt":<ms>}}`), which carries the token's expiry;
 * its refresh token is ignored — the shim never refreshes.
 */
export async function readCredentialFile(file: string, slot: SlotName): Promise<ReadOutcome> {
  let raw: Buffer;
  try {
    raw = await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { ok: false, missing: true, problem: `${file} does not exist` };
    return { ok: false, missing: false, unreadable: true, problem: `${file} cannot be read (${code ?? 'error'})` };
  }
  if (raw.length > MAX_CREDENTIAL_FILE_BYTES) {
    return { ok: false, missing: false, problem: `${file} is larger than ${MAX_CREDENTIAL_FILE_BYTES} bytes` };
  }
  return parseCredential(raw.toString('utf8'), slot, file);
}

/** Validates file content for a slot (separate from I/O so it is tested without files). */
export function parseCredential(content: string, slot: SlotName, label: string): ReadOutcome {
  let text = normaliseSecret(content);
  let expiresAt: Date | undefined;
  if (slot === 'oauth' && text.startsWith('{')) {
    const fromJson = fromCredentialsJson(text);
    if (fromJson === undefined) {
      return {
        ok: false,
        missing: false,
        problem: `${label} is JSON but not Claude Code's credentials shape (claudeAiOauth.accessToken)`,
      };
    }
    text = fromJson.token;
    expiresAt = fromJson.expiresAt;
  }
  const problem = tokenProblem(slot, text);
  if (problem !== undefined) return { ok: false, missing: false, problem: `${label} ${problem}` };
  return { ok: true, value: text, expiresAt };
}

function fromCredentialsJson(text: string): { token: string; expiresAt: Date | undefined } | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return undefined;
  }
  const oauth = (doc as { claudeAiOauth?: { accessToken?: unknown; expiresAt?: unknown } } | null)?.claudeAiOauth;
  if (typeof oauth?.accessToken !== 'string') return undefined;
  const exp = oauth.expiresAt;
  return {
    token: normaliseSecret(oauth.accessToken),
    expiresAt: typeof exp === 'number' && Number.isFinite(exp) ? new Date(exp) : undefined,
  };
}
