import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { optionsMarkdown } from '../../src/config/options.js';
import { annotationsMarkdown, ANNOTATIONS } from '../../src/injector/annotations.js';
import { INJECTOR_OPTIONS, WEBHOOK_OPTIONS } from '../../src/injector/config.js';

/** docs/INJECTION.md holds the generated tables verbatim, so the docs cannot drift from the code. */
const doc = await readFile(join(import.meta.dirname, '..', '..', 'docs', 'INJECTION.md'), 'utf8');

function tableAfter(marker: string): string {
  const start = doc.indexOf('\n', doc.indexOf(marker)) + 1;
  const lines = doc.slice(start).split('\n');
  return lines
    .slice(
      0,
      lines.findIndex((l) => !l.startsWith('|')),
    )
    .join('\n');
}

describe('docs/INJECTION.md', () => {
  it('contains exactly the generated annotation table', () => {
    expect(tableAfter('annotationsMarkdown()')).toBe(annotationsMarkdown());
  });
  it('contains exactly the generated injector configuration table', () => {
    expect(tableAfter('optionsMarkdown(INJECTOR_OPTIONS)')).toBe(optionsMarkdown(INJECTOR_OPTIONS));
  });
  it('contains exactly the generated webhook configuration table', () => {
    expect(tableAfter('optionsMarkdown(WEBHOOK_OPTIONS)')).toBe(optionsMarkdown(WEBHOOK_OPTIONS));
  });
  it('documents every annotation constant', () => {
    for (const a of Object.values(ANNOTATIONS)) expect(annotationsMarkdown()).toContain(`\`${a}\``);
  });
});
