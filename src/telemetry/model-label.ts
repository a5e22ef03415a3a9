/** Most distinct `model` label values per process; later new models are counted as `other`. */
export const MAX_MODEL_LABELS = 20;
const MAX_MODEL_LENGTH = 64;
const UNSAFE = /[^a-z0-9._-]/g;

/**
 * Turns the `model` a response names into a bounded label. The value comes from the upstream's
 * response, but LiteLLM echoes the request's `model` field, so it is client-controlled: the first
 * `max` distinct values keep their name, later ones become `other`; characters outside
 * `[a-z0-9._-]` become `_`; anything that looks like a secret (`sk-…`) is never a label.
 */
export class ModelLabels {
  readonly #seen = new Set<string>();
  readonly #max: number;

  constructor(max = MAX_MODEL_LABELS) {
    this.#max = max;
  }

  label(model: unknown): string {
    if (typeof model !== 'string' || model.trim() === '') return 'unknown';
    const lower = model.trim().toLowerCase();
    if (lower.includes('sk-')) return 'other';
    const safe = lower.slice(0, MAX_MODEL_LENGTH).replace(UNSAFE, '_');
    if (this.#seen.has(safe)) return safe;
    if (safe === 'other' || safe === 'unknown' || this.#seen.size >= this.#max) return 'other';
    this.#seen.add(safe);
    return safe;
  }
}
