import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { expect } from 'vitest';

/**
 * Golden files: by default compare with the committed file; with UPDATE_GOLDEN=1 rewrite it (review
 * the diff before committing). `compare` decides what "equal" means (text by default).
 */
export async function expectGolden(
  file: string,
  actual: string,
  compare: (actual: string, expected: string) => void = (a, e) => expect(a).toBe(e),
): Promise<void> {
  if (process.env['UPDATE_GOLDEN'] === '1') {
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, actual);
    return;
  }
  let expected: string;
  try {
    expected = await readFile(file, 'utf8');
  } catch {
    throw new Error(`golden file ${file} is missing: run with UPDATE_GOLDEN=1 and review the diff`);
  }
  compare(actual, expected);
}
