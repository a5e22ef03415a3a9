import type { Logger } from 'pino';
import { CREDENTIAL_SLOTS, slotName, type CredentialSlot, type ShimCredentials } from '../vocabulary/credentials.js';
import type { ReadOutcome } from './read-credential.js';

const LABEL: Record<CredentialSlot, string> = { oauth: 'oauth token', apiKey: 'api key', litellmKey: 'litellm key' };

/**
 * One immutable, consistent set of credentials. A request takes one snapshot at its start and
 * uses it to the end, so a rotation never mixes an old token with a new LiteLLM key.
 */
export interface CredentialSnapshot extends ShimCredentials {
  readonly generation: number;
  readonly oauthExpiresAt?: Date | undefined;
}

/**
 * `loaded`: a new value; `unchanged`; `invalid`: rejected, last good kept; `missing`; `error`:
 * unreadable; `held`: a valid new value not applied because another value of the same Secret
 * version was rejected (a Secret's snapshot is all-or-nothing).
 */
export type CredentialReloadResult = 'loaded' | 'unchanged' | 'invalid' | 'missing' | 'error' | 'held';

export interface CredentialEvents {
  onReload?(slot: CredentialSlot, result: CredentialReloadResult): void;
  onSnapshot?(snapshot: CredentialSnapshot, changed: readonly CredentialSlot[]): void;
}

/** Where values come from (mounted files, or a Secret through the Kubernetes API). */
export interface CredentialFeed {
  /** Delivers the first batch before resolving, then keeps delivering on change. */
  start(store: CredentialStore): Promise<void>;
  /** Re-reads now (tests, and the file feed's periodic pass). */
  refresh(): Promise<void>;
  stop(): void;
}

export interface CredentialStoreOptions {
  /** Slots that must load for the shim to be ready, each with where it comes from (for messages). */
  readonly slots: Partial<Record<CredentialSlot, string>>;
  /** Expiry stated by configuration (AUTH_SHIM_OAUTH_TOKEN_EXPIRES_AT); wins over the value's own. */
  readonly oauthExpiresAt?: Date | undefined;
  readonly log: Logger;
  readonly events?: CredentialEvents;
}

interface SlotState {
  readonly source: string;
  value: string | undefined;
  expiresAt: Date | undefined;
  loadedAt: Date | undefined;
  problem: string | undefined;
}

export interface SlotStatus {
  readonly slot: CredentialSlot;
  readonly source: string;
  readonly loaded: boolean;
  readonly loadedAt: Date | undefined;
  readonly expiresAt: Date | undefined;
  readonly problem: string | undefined;
}

/**
 * The credentials in use. A feed hands in a *batch* of read outcomes — every key of one Secret
 * read together — and the store applies it all or nothing: if every value is good, the changed
 * ones replace the current ones in a single new snapshot; if any value is bad, missing or
 * unreadable, no value of that batch is applied and the whole previous snapshot stays — a new
 * LiteLLM key is never paired with the old token because the new token was empty (issue 15).
 * Rejections and held values are logged and counted, never quoted.
 */
export class CredentialStore {
  readonly #opts: CredentialStoreOptions;
  readonly #slots = new Map<CredentialSlot, SlotState>();
  #feed: CredentialFeed | undefined;
  #snapshot: CredentialSnapshot = Object.freeze({ generation: 0 });

  constructor(opts: CredentialStoreOptions) {
    this.#opts = opts;
    for (const slot of CREDENTIAL_SLOTS) {
      const source = opts.slots[slot];
      if (source !== undefined)
        this.#slots.set(slot, {
          source,
          value: undefined,
          expiresAt: undefined,
          loadedAt: undefined,
          problem: undefined,
        });
    }
  }

  /** The current snapshot; callers keep the object for the life of one request. */
  snapshot(): CredentialSnapshot {
    return this.#snapshot;
  }

  /** Loads the first values (missing ones only make the shim not ready) and follows changes. */
  async start(feed: CredentialFeed | undefined): Promise<void> {
    this.#feed = feed;
    await feed?.start(this);
  }

  stop(): void {
    this.#feed?.stop();
  }

  /** Re-reads every source now. */
  async reloadAll(): Promise<void> {
    await this.#feed?.refresh();
  }

  /**
   * Why a slot has no value yet, from a feed that makes its values rather than reading them (federation: the
   * exchange's problem); readiness and refusals name it. Ignored once the slot holds a value.
   */
  note(slot: CredentialSlot, problem: string | undefined): void {
    const s = this.#slots.get(slot);
    if (s !== undefined && s.value === undefined) s.problem = problem;
  }

  /** Why the shim is not ready: a configured credential that has never loaded. */
  notReadyReasons(): string[] {
    const reasons: string[] = [];
    for (const s of this.#slots.values()) {
      if (s.value === undefined) reasons.push(`${s.source}: ${s.problem ?? 'not loaded yet'}`);
    }
    return reasons;
  }

  status(): SlotStatus[] {
    return [...this.#slots].map(([slot, s]) => ({
      slot,
      source: s.source,
      loaded: s.value !== undefined,
      loadedAt: s.loadedAt,
      expiresAt: s.expiresAt,
      problem: s.problem,
    }));
  }

  /** Applies one batch; publishes at most one new snapshot for it. */
  apply(batch: ReadonlyMap<CredentialSlot, ReadOutcome>): void {
    const changed: CredentialSlot[] = [];
    const rotated = new Set<CredentialSlot>();
    const results: Array<[CredentialSlot, CredentialReloadResult]> = [];
    const entries = [...batch].filter(([slot]) => this.#slots.has(slot));
    const rejected = entries.filter(([, o]) => !o.ok).map(([slot]) => slot);
    for (const [slot, outcome] of entries) {
      const s = this.#slots.get(slot) as SlotState;
      if (s.value !== undefined) rotated.add(slot);
      results.push([
        slot,
        rejected.length > 0 && outcome.ok
          ? this.#hold(slot, s, outcome, rejected)
          : this.#applyOne(slot, s, outcome, changed),
      ]);
    }
    if (changed.length > 0) this.#publish(changed);
    for (const slot of changed) {
      this.#opts.log.info(
        {
          event: 'credential_loaded',
          slot: slotName(slot),
          source: this.#slots.get(slot)?.source,
          generation: this.#snapshot.generation,
        },
        rotated.has(slot) ? `${LABEL[slot]} rotated` : `${LABEL[slot]} loaded`,
      );
    }
    for (const [slot, result] of results) this.#opts.events?.onReload?.(slot, result);
  }

  /** A good value in a batch with a rejected one: the previous value (or none) stays. */
  #hold(
    slot: CredentialSlot,
    s: SlotState,
    outcome: ReadOutcome & { ok: true },
    rejected: readonly CredentialSlot[],
  ): CredentialReloadResult {
    if (outcome.value === s.value && outcome.expiresAt?.getTime() === s.expiresAt?.getTime()) {
      s.problem = undefined;
      return 'unchanged';
    }
    const problem = `new ${LABEL[slot]} not applied: the ${rejected.map((r) => LABEL[r]).join(' and ')} of the same Secret version was rejected`;
    if (s.problem !== problem) {
      const keeping = s.value === undefined ? 'no value loaded yet' : 'keeping the whole previous snapshot';
      this.#opts.log.warn(
        { event: 'credential_held', slot: slotName(slot), source: s.source, rejected: rejected.map(slotName) },
        `${problem}; ${keeping}`,
      );
    }
    s.problem = problem;
    return 'held';
  }

  #applyOne(
    slot: CredentialSlot,
    s: SlotState,
    outcome: ReadOutcome,
    changed: CredentialSlot[],
  ): CredentialReloadResult {
    if (outcome.ok) {
      s.problem = undefined;
      if (outcome.value === s.value && outcome.expiresAt?.getTime() === s.expiresAt?.getTime()) return 'unchanged';
      s.value = outcome.value;
      s.expiresAt = outcome.expiresAt;
      s.loadedAt = new Date();
      changed.push(slot);
      return 'loaded';
    }
    const result: CredentialReloadResult = outcome.missing
      ? 'missing'
      : outcome.unreadable === true
        ? 'error'
        : 'invalid';
    if (s.problem !== outcome.problem) {
      const keeping = s.value === undefined ? 'no value loaded yet' : 'keeping the last good value';
      this.#opts.log.warn(
        { event: 'credential_rejected', slot: slotName(slot), source: s.source, result },
        `${outcome.problem}; ${keeping}`,
      );
    }
    s.problem = outcome.problem;
    return result;
  }

  #publish(changed: CredentialSlot[]): void {
    const o = this.#slots.get('oauth');
    const next: CredentialSnapshot = Object.freeze({
      generation: this.#snapshot.generation + 1,
      oauth: o?.value,
      apiKey: this.#slots.get('apiKey')?.value,
      litellmKey: this.#slots.get('litellmKey')?.value,
      oauthExpiresAt: this.#opts.oauthExpiresAt ?? o?.expiresAt,
    });
    this.#snapshot = next;
    this.#opts.events?.onSnapshot?.(next, changed);
  }
}
