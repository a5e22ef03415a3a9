import { isMap, isSeq, parseAllDocuments, type Document } from 'yaml';
import type { InjectorConfig } from './config.js';
import { mutate } from './mutate.js';
import type { PatchOperation } from './patch.js';
import { getIn, podSites, type Path } from './workloads.js';

/**
 * `auth-shim inject` without the I/O: YAML text in, injected YAML text out. Each pod (or pod
 * template) goes through the same `mutate` as the webhook, and its JSON Patch is applied to the
 * YAML document itself, so comments and formatting outside the changed nodes survive. A document
 * with nothing to inject is copied byte for byte.
 */

export interface InjectOptions {
  /** Treat every pod as if its namespace were labelled `auth-shim.io/inject=enabled`. */
  readonly all: boolean;
}

export interface InjectResult {
  readonly output: string;
  /** One line per pod injected or skipped with a reason, for stderr. */
  readonly notes: string[];
  /** Pods that cannot be injected as annotated, or YAML that does not parse: nothing is written. */
  readonly problems: string[];
}

const STRINGIFY = { indentSeq: false, flowCollectionPadding: false, lineWidth: 0 } as const;

function unescape(token: string): string {
  return token.replaceAll('~1', '/').replaceAll('~0', '~');
}

/** Applies `add` operations (the only kind `mutate` emits) to a YAML document under `base`. */
export function applyToYaml(doc: Document, base: Path, ops: readonly PatchOperation[]): void {
  for (const op of ops) {
    const tokens = op.path.split('/').slice(1).map(unescape);
    const last = tokens.pop() as string;
    const parentPath: (string | number)[] = [...base];
    for (const t of tokens) {
      const parent = doc.getIn(parentPath, true);
      parentPath.push(isSeq(parent) ? Number(t) : t);
    }
    const parent = doc.getIn(parentPath, true);
    const value = doc.createNode(op.value);
    if (isSeq(parent)) {
      if (last === '-') parent.items.push(value);
      else parent.items.splice(Number(last), 0, value);
    } else if (isMap(parent)) {
      parent.set(doc.createNode(last), value);
    } else {
      throw new Error(`cannot apply ${op.op} ${op.path}: no map or list at ${parentPath.join('.')}`);
    }
  }
}

export function injectManifests(text: string, source: string, config: InjectorConfig, opts: InjectOptions): InjectResult {
  const notes: string[] = [];
  const problems: string[] = [];
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) return { output: text, notes, problems };

  let prev = 0;
  const parts: string[] = [];
  docs.forEach((doc, n) => {
    const original = text.slice(prev, doc.range[2]);
    prev = doc.range[2];
    const where = `${source}: document ${n + 1}`;
    if (doc.errors.length > 0) {
      problems.push(`${where}: not valid YAML: ${doc.errors[0]?.message ?? 'parse error'}`);
      parts.push(original);
      return;
    }
    let changed = false;
    for (const site of podSites(doc.toJS())) {
      const label = `${where} (${site.kind} ${site.name})`;
      const m = mutate({ pod: site.pod, namespace: site.namespace ?? '', namespaceOptedIn: opts.all, config });
      if (m.outcome === 'invalid') problems.push(`${label}: ${m.problems.join('; ')}`);
      else if (m.outcome === 'skipped') {
        if (m.warn) notes.push(`${label}: not injected: ${m.reason}`);
      } else {
        applyToYaml(doc, site.path, m.patch);
        // The YAML edit and the mutation must agree; a mismatch is a bug, never silent output.
        if (JSON.stringify(getIn(doc.toJS(), site.path)) !== JSON.stringify(m.pod)) {
          throw new Error(`${label}: internal error: the YAML edit does not match the mutation`);
        }
        changed = true;
        notes.push(`${label}: injected${m.warnings.map((w) => `; ${w}`).join('')}`);
      }
    }
    if (!changed) {
      parts.push(original);
      return;
    }
    let out = doc.toString(STRINGIFY);
    // Keep the separator style of the source: `toString` ends with a newline; the slice may not.
    if (!original.endsWith('\n')) out = out.replace(/\n$/, '');
    parts.push(out);
  });
  parts.push(text.slice(prev));
  return { output: parts.join(''), notes, problems };
}
