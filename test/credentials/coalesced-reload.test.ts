import { describe, expect, it } from 'vitest';
import { coalescedReload } from '../../src/credentials/watch-files.js';

/** A run that waits for the test to release it, recording what ran in which order. */
function gatedRuns() {
  const log: string[] = [];
  const gates: Array<() => void> = [];
  const run = (key: string): Promise<void> => {
    log.push(`start ${key}`);
    return new Promise<void>((resolve) =>
      gates.push(() => {
        log.push(`end ${key}`);
        resolve();
      }),
    );
  };
  const release = async (): Promise<void> => {
    while (gates.length === 0) await new Promise((r) => setImmediate(r));
    gates.shift()?.();
  };
  return { log, run, release };
}

describe('coalescedReload (shared by the credential file feed and the certificate files)', () => {
  it('calls during a run share its promise and cause exactly one more run, never an overlap', async () => {
    const { log, run, release } = gatedRuns();
    const reload = coalescedReload(run);
    const first = reload('a');
    const second = reload('a');
    const third = reload('a');
    expect(second).toBe(first);
    expect(third).toBe(first);
    await release();
    await release();
    await first;
    expect(log).toEqual(['start a', 'end a', 'start a', 'end a']);
  });

  it('keys run independently', async () => {
    const { log, run, release } = gatedRuns();
    const reload = coalescedReload(run);
    const a = reload('a');
    const b = reload('b');
    expect(b).not.toBe(a);
    await release();
    await release();
    await Promise.all([a, b]);
    expect(log.filter((l) => l.startsWith('start'))).toEqual(['start a', 'start b']);
  });

  it('no extra run once inactive (after stop)', async () => {
    const { log, run, release } = gatedRuns();
    let active = true;
    const reload = coalescedReload(run, () => active);
    const first = reload('a');
    void reload('a');
    active = false;
    await release();
    await first;
    expect(log).toEqual(['start a', 'end a']);
  });

  it('a failing run does not wedge the key', async () => {
    let calls = 0;
    const reload = coalescedReload(async () => {
      calls++;
      if (calls === 1) throw new Error('boom');
    });
    await expect(reload('a')).rejects.toThrow('boom');
    await reload('a');
    expect(calls).toBe(2);
  });
});
