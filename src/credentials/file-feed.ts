import { readlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ReadOutcome } from './read-credential.js';
import { readCredentialFile } from './read-credential.js';
import { slotName, type CredentialSlot } from '../vocabulary/credentials.js';
import type { CredentialFeed, CredentialStore } from './store.js';
import { coalescedReload, watchFiles, type FileWatch } from './watch-files.js';

export interface FileFeedOptions {
  readonly files: Partial<Record<CredentialSlot, string>>;
  readonly intervalMs: number;
  readonly debounceMs?: number;
}

/** Reads at most this many times when the `..data` link keeps moving under one read. */
const MAX_ATTEMPTS = 5;

/**
 * Credentials from mounted files. Files in one directory are one Secret: they are read together
 * and applied as one batch, and if the kubelet swapped `..data` while they were being read the
 * batch is read again — so a snapshot never pairs keys from two versions of one Secret.
 */
export function fileFeed(opts: FileFeedOptions): CredentialFeed {
  const groups = new Map<string, Array<[CredentialSlot, string]>>();
  for (const [slot, file] of Object.entries(opts.files) as Array<[CredentialSlot, string | undefined]>) {
    if (file === undefined) continue;
    const dir = dirname(file);
    groups.set(dir, [...(groups.get(dir) ?? []), [slot, file]]);
  }
  let store: CredentialStore | undefined;
  let watch: FileWatch | undefined;
  let stopped = false;

  async function readGroup(dir: string): Promise<Map<CredentialSlot, ReadOutcome>> {
    const members = groups.get(dir) ?? [];
    for (let attempt = 1; ; attempt++) {
      const before = await dataLink(dir);
      const outcomes = await Promise.all(members.map(([slot, file]) => readCredentialFile(file, slotName(slot))));
      const after = await dataLink(dir);
      if (before === after || attempt >= MAX_ATTEMPTS)
        return new Map(members.map(([slot], i) => [slot, outcomes[i] as ReadOutcome]));
    }
  }

  /** Serialises reads per directory so an older read never lands after a newer one. */
  const reload = coalescedReload<string>(
    async (dir) => {
      const batch = await readGroup(dir);
      if (!stopped) store?.apply(batch);
    },
    () => !stopped,
  );

  const refresh = async (): Promise<void> => {
    await Promise.all([...groups.keys()].map(reload));
  };

  return {
    async start(s) {
      store = s;
      await refresh();
      if (stopped) return;
      const files = [...groups.values()].flat().map(([, f]) => f);
      watch = watchFiles(
        files,
        (changed) => {
          for (const dir of new Set(changed.map((f) => dirname(f)))) void reload(dir);
        },
        { intervalMs: opts.intervalMs, debounceMs: opts.debounceMs ?? 100 },
      );
    },
    refresh,
    stop() {
      stopped = true;
      watch?.stop();
    },
  };
}

/** Where a kubelet-managed directory's `..data` link points (undefined for a plain directory). */
async function dataLink(dir: string): Promise<string | undefined> {
  try {
    return await readlink(join(dir, '..data'));
  } catch {
    return undefined;
  }
}
