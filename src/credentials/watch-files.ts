import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';

export interface FileWatchOptions {
  /** Wait for events to settle: the kubelet writes a directory, a symlink, then renames. */
  readonly debounceMs?: number;
  /** Periodic re-read, a fallback for missed events (controller-runtime's cert watcher polls too). */
  readonly intervalMs: number;
}

export interface FileWatch {
  stop(): void;
}

/**
 * Calls `onChange(files)` when any of `files` may have changed, the way Kubernetes mounts change:
 * a mounted Secret is updated by writing `..<timestamp>/` and atomically renaming the `..data`
 * symlink, so a watch on the key file itself goes silent after the first swap. The *directory* is
 * watched; any `..` entry or a watched file's own name counts (editors write temporary files
 * beside it). `onChange` also runs every `intervalMs`, which re-arms watches on directories that
 * did not exist yet or were deleted. The caller re-reads and compares; this only says "look again".
 */
export function watchFiles(
  files: readonly string[],
  onChange: (files: string[]) => void,
  opts: FileWatchOptions,
): FileWatch {
  const byDir = new Map<string, string[]>();
  for (const f of files) {
    const d = dirname(f);
    byDir.set(d, [...(byDir.get(d) ?? []), f]);
  }
  const watchers = new Map<string, FSWatcher>();
  const timers = new Map<string, NodeJS.Timeout>();
  let stopped = false;

  function arm(): void {
    for (const [dir, inDir] of byDir) {
      if (watchers.has(dir)) continue;
      try {
        const w = watch(dir, { persistent: false }, (_event, name) => onEvent(dir, inDir, name));
        w.on('error', () => {
          w.close();
          watchers.delete(dir);
        });
        watchers.set(dir, w);
      } catch {
        // Not there yet: the periodic pass retries.
      }
    }
  }

  function onEvent(dir: string, inDir: string[], name: string | Buffer | null): void {
    const entry = name === null ? undefined : String(name);
    if (entry !== undefined && !entry.startsWith('..') && !inDir.some((f) => basename(f) === entry)) return;
    const prev = timers.get(dir);
    if (prev !== undefined) clearTimeout(prev);
    const t = setTimeout(() => {
      timers.delete(dir);
      if (!stopped) onChange(inDir);
    }, opts.debounceMs ?? 100);
    t.unref();
    timers.set(dir, t);
  }

  arm();
  const interval = setInterval(() => {
    arm();
    onChange([...files]);
  }, opts.intervalMs);
  interval.unref();

  return {
    stop() {
      stopped = true;
      clearInterval(interval);
      for (const t of timers.values()) clearTimeout(t);
      for (const w of watchers.values()) w.close();
      watchers.clear();
    },
  };
}

/**
 * Serialises re-reads per key (a directory, a certificate pair): a call while one runs marks it to run
 * once more and shares its promise, so an older read never lands after a newer one and a burst of
 * events costs at most one extra read. `active()` false stops the extra runs (after `stop()`).
 */
export function coalescedReload<K>(
  run: (key: K) => Promise<void>,
  active: () => boolean = () => true,
): (key: K) => Promise<void> {
  const running = new Map<K, Promise<void>>();
  const again = new Set<K>();
  return (key) => {
    const current = running.get(key);
    if (current !== undefined) {
      again.add(key);
      return current;
    }
    const run1 = (async () => {
      do {
        again.delete(key);
        await run(key);
      } while (again.has(key) && active());
    })().finally(() => running.delete(key));
    running.set(key, run1);
    return run1;
  };
}
