import { optionsMarkdown } from '../config/options.js';
import { PROXY_OPTIONS } from '../config/proxy-config.js';
import { annotationsMarkdown } from '../injector/annotations.js';

/** A Markdown section derived from code; `npm run docs` rewrites it, a test checks it. */
export interface GeneratedSection {
  readonly file: string;
  readonly name: string;
  render(): string;
}

export const GENERATED_SECTIONS: GeneratedSection[] = [
  { file: 'README.md', name: 'proxy-options', render: () => optionsMarkdown(PROXY_OPTIONS) },
  { file: 'README.md', name: 'annotations', render: annotationsMarkdown },
];

/** Replaces the body of every generated section of `file` in `text`. */
export function renderSections(file: string, text: string): string {
  let out = text;
  for (const s of GENERATED_SECTIONS.filter((g) => g.file === file)) {
    const re = new RegExp(`(<!-- generated:${s.name} \\(npm run docs\\) -->\\n)[\\s\\S]*?(<!-- /generated:${s.name} -->)`);
    if (!re.test(out)) throw new Error(`${file} has no generated:${s.name} markers`);
    out = out.replace(re, (_m, open: string, close: string) => `${open}${s.render()}\n${close}`);
  }
  return out;
}
