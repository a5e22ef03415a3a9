import type { Logger } from 'pino';
import type { ShimCredentials } from '../proxy/translate.js';
import { readCredentialFile } from './read-credential.js';
import type { TokenSlot } from './token.js';
import { watchFiles, type FileWatch } from './watch-files.js';

/** The three credentials the shim may hold, each from its own mounted Secret key. */
export type Slot = 'oauth' | 'apiKey' | 'litellmKey';

export const SLOTS: readonly Slot[] = ['oauth', 'apiKey', 'litellmKey'];

const SLOT_INFO: Record<Slot, { token: TokenSlot; env: string; label: string }> = {
  oauth: { token: 'oauth', env: 'AUTH_SHIM_OAUTH_TOKEN_FILE', label: 'oauth token' },
  apiKey: { token: 'api-key', env: 'AUTH_SHIM_API_KEY_FILE', label: 'api key' },
  litellmKey: { token: 'litellm-key', env: 'AUTH_SHIM_LITELLM_KEY_FILE', label: 'litellm key' },
};

/** Metric label for a slot (`oauth`, `api-key`, `litellm-key`). */
export function slotLabel(slot: Slot): TokenSlot {
  return SLOT_INFO[slot].token;
}

/**
 * One immutable, consistent set of credentials. A request takes one snapshot at its start and
 * uses it to the end, so a rotation never mixes an old token with a new LiteLLM key.
 */
export interface CredentialSnapshot extends ShimCredentials {
  readonly generation: number;
  readonly oauthExpiresAt?: Date | undefined;
}

/** `loaded`: a new value; `unchanged`; `invalid`: rejected, last good kept; `missing`; `error`: unreadable. */
export type ReloadResult = 'loaded' | 'unchanged' | 'invalid' | 'missing' | 'error';

export interface CredentialEvents {
  onReload?(slot: Slot, result: ReloadResult): void;
  onSnapshot?(snapshot: CredentialSnapshot, changed: readonly Slot[]): void;
}

export interface CredentialStoreOptions {
  readonly files: Partial<Record<Slot, string | undefined>>;
  readonly reloadIntervalMs: number;
  /** Wait for file events to settle (the kubelet writes a directory, a symlink, then renames). */
  readonly debounceMs?: number;
  /** Expiry stated by configuration (AUTH_SHIM_OAUTH_TOKEN_EXPIRES_AT); wins over the file's. */
  readonly oauthExpiresAt?: Date | undefined;
  readonly log: Logger;
  readonly events?: CredentialEvents;
}

interface SlotState {
  readonly file: string;
  value: string | undefined;
  expiresAt: Date | undefined;
  loadedAt: Date | undefined;
  problem: string | undefined;
  running: Promise<void> | undefined;
  again: boolean;
}

export interface SlotStatus {
  readonly slot: Slot;
  readonly file: string;
  readonly loaded: boolean;
  readonly loadedAt: Date | undefined;
  readonly problem: string | undefined;
}

/**
 * Holds the credentials read from mounted Secret files and keeps them current (`watchFiles` says
 * when to look again). Each re-read is validated, and only a good, different value replaces the
 * current one; a bad or missing file keeps the last good value, logged and counted.
 */
export class CredentialStore {
  readonly #opts: CredentialStoreOptions;
  readonly #slots = new Map<Slot, SlotState>();
  #watch: FileWatch | undefined;
  #snapshot: CredentialSnapshot = Object.freeze({ generation: 0 });
  #stopped = false;

  constructor(opts: CredentialStoreOptions) {
    this.#opts = opts;
    for (const slot of SLOTS) {
      const file = opts.files[slot];
      if (file !== undefined) {
        this.#slots.set(slot, { file, value: undefined, expiresAt: undefined, loadedAt: undefined, problem: undefined, running: undefined, again: false });
      }
    }
  }

  /** The current snapshot; callers keep the object for the life of one request. */
  snapshot(): CredentialSnapshot {
    return this.#snapshot;
  }

  /** Reads every configured file once, then starts watching. Missing files are not fatal: not ready. */
  async start(): Promise<void> {
    await this.reloadAll();
    if (this.#stopped) return;
    const slotOf = new Map([...this.#slots].map(([slot, s]) => [s.file, slot]));
    this.#watch = watchFiles(
      [...slotOf.keys()],
      (files) => {
        for (const f of files) void this.reload(slotOf.get(f) as Slot);
      },
      { intervalMs: this.#opts.reloadIntervalMs, debounceMs: this.#opts.debounceMs ?? 100 },
    );
  }

  stop(): void {
    this.#stopped = true;
    this.#watch?.stop();
  }

  /** Problems that keep `/readyz` false: a configured credential that has never loaded. */
  notReadyReasons(): string[] {
    const reasons: string[] = [];
    for (const [slot, s] of this.#slots) {
      if (s.value === undefined) reasons.push(`${SLOT_INFO[slot].env}: ${s.problem ?? 'not loaded yet'}`);
    }
    return reasons;
  }

  status(): SlotStatus[] {
    return [...this.#slots].map(([slot, s]) => ({ slot, file: s.file, loaded: s.value !== undefined, loadedAt: s.loadedAt, problem: s.problem }));
  }

  async reloadAll(): Promise<void> {
    await Promise.all([...this.#slots.keys()].map((slot) => this.reload(slot)));
  }

  /** Re-reads one slot; overlapping calls coalesce so an older read never lands after a newer one. */
  reload(slot: Slot): Promise<void> {
    const s = this.#slots.get(slot);
    if (s === undefined) return Promise.resolve();
    if (s.running !== undefined) {
      s.again = true;
      return s.running;
    }
    const run = async (): Promise<void> => {
      do {
        s.again = false;
        await this.#readOnce(slot, s);
      } while (s.again && !this.#stopped);
    };
    s.running = run().finally(() => {
      s.running = undefined;
    });
    return s.running;
  }

  async #readOnce(slot: Slot, s: SlotState): Promise<void> {
    const info = SLOT_INFO[slot];
    const outcome = await readCredentialFile(s.file, info.token);
    let result: ReloadResult;
    if (outcome.ok) {
      s.problem = undefined;
      if (outcome.value === s.value && sameTime(outcome.expiresAt, s.expiresAt)) {
        result = 'unchanged';
      } else {
        const first = s.value === undefined;
        s.value = outcome.value;
        s.expiresAt = outcome.expiresAt;
        s.loadedAt = new Date();
        result = 'loaded';
        this.#publish([slot]);
        this.#opts.log.info({ event: 'credential_loaded', slot: info.token, file: s.file, generation: this.#snapshot.generation }, first ? `${info.label} loaded` : `${info.label} rotated`);
      }
    } else {
      result = outcome.missing ? 'missing' : 'invalid';
      if (/cannot be read/.test(outcome.problem)) result = 'error';
      const changed = s.problem !== outcome.problem;
      s.problem = outcome.problem;
      if (changed) {
        const keeping = s.value === undefined ? 'no credential loaded yet' : 'keeping the last good value';
        this.#opts.log.warn({ event: 'credential_rejected', slot: info.token, file: s.file, result }, `${outcome.problem}; ${keeping}`);
      }
    }
    this.#opts.events?.onReload?.(slot, result);
  }

  #publish(changed: Slot[]): void {
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

function sameTime(a: Date | undefined, b: Date | undefined): boolean {
  return a?.getTime() === b?.getTime();
}
