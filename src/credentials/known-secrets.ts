import { maskSecret } from './token.js';

/**
 * The credential values the shim holds, so that nothing it writes — a log line, an error body it
 * rewrites — can carry one, whatever its shape (issue 15, item 9: a JWT-shaped LiteLLM key echoed
 * in an upstream error reached the client whole; masking by `sk-…` pattern cannot see it).
 * Masking is by value: the current set and the one before it (requests that started before a
 * rotation still hold the previous values).
 */
export class KnownSecrets {
  #current: readonly string[] = [];
  #all: readonly string[] = [];

  /** Replaces the current set; the previous one is still masked until the next change. */
  set(values: ReadonlyArray<string | undefined>): void {
    const next = values.filter((v): v is string => v !== undefined && v.length > 0);
    // Longest first: a value that contains another is masked whole.
    this.#all = [...new Set([...next, ...this.#current])].sort((a, b) => b.length - a.length);
    this.#current = next;
  }

  /** `text` with every known value replaced by its mask (prefix and length, no secret character). */
  readonly mask = (text: string): string => {
    let out = text;
    for (const v of this.#all) if (out.includes(v)) out = out.replaceAll(v, maskSecret(v));
    return out;
  };
}
