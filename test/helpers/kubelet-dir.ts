import { mkdir, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

let counter = 0;

/**
 * Writes a Secret volume the way the kubelet's AtomicWriter does: the data goes into a fresh
 * `..<timestamp>` directory, a `..data_tmp` link to it is renamed over `..data` (atomic), each key
 * is a link `key → ..data/key` (created once), and the old directory is removed.
 */
export async function writeKubeletSecret(dir: string, data: Record<string, string>): Promise<void> {
  await mkdir(dir, { recursive: true });
  const ts = `..2026_11_22_17_00_00.${String(++counter).padStart(9, '0')}`;
  await mkdir(join(dir, ts));
  for (const [k, v] of Object.entries(data)) await writeFile(join(dir, ts, k), v);
  const old = await readlink(join(dir, '..data')).catch(() => undefined);
  await symlink(ts, join(dir, '..data_tmp'));
  await rename(join(dir, '..data_tmp'), join(dir, '..data'));
  for (const k of Object.keys(data)) {
    await symlink(join('..data', k), join(dir, k)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
  }
  if (old !== undefined) await rm(join(dir, old), { recursive: true, force: true });
}
