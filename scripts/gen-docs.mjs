// Regenerates the tables in Markdown files that are derived from code, between markers:
//   <!-- generated:NAME (npm run docs) --> … <!-- /generated:NAME -->
// Tests compare the committed files with what this produces, so docs cannot drift from code.
import { readFileSync, writeFileSync } from 'node:fs';
import { GENERATED_SECTIONS, renderSections } from '../dist/docs/sections.js';

for (const file of new Set(GENERATED_SECTIONS.map((s) => s.file))) {
  const path = new URL(`../${file}`, import.meta.url);
  const before = readFileSync(path, 'utf8');
  const after = renderSections(file, before);
  if (after !== before) {
    writeFileSync(path, after);
    console.log(`updated ${file}`);
  }
}
