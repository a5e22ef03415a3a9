import { Composer, Document, isMap, isSeq, Parser } from 'yaml';
import type { InjectorConfig } from './config.js';
import { mutate } from './mutate.js';
import type { PatchOperation } from './patch.js';
import { getIn, podSites, type Path } from './workloads.js';
import {
  decodeForParsing,
  invalidUtf8,
  READ_OPTIONS,
  readsAsUnderBoth,
  sharesNodes,
  TO_JS,
  writeUnambiguously,
} from './yaml-text.js';

/**
 * `auth-shim inject` without the I/O: YAML bytes in, injected YAML bytes out. Each pod (or pod
 * template) goes through the same `mutate` as the webhook, and its JSON Patch is applied to the
 * YAML document itself, so comments and formatting outside the changed nodes survive. A document
 * with nothing to inject is copied byte for byte (invalid UTF-8 included). Documents are composed
 * and handled one at a time, so memory follows the largest document, not the whole input.
 */

export interface InjectOptions {
  /** Treat every pod as if its namespace were labelled `auth-shim.io/inject=enabled`. */
  readonly all: boolean;
}

export interface InjectResult<T> {
  readonly output: T;
  /** One line per pod injected or skipped with a reason, for stderr. */
  readonly notes: string[];
  /** Pods that cannot be injected as annotated, or YAML that does not parse: nothing is written. */
  readonly problems: string[];
}

/**
 * The largest input `inject` reads (per file, and stdin). Before issue 15 a 40 MB input took 24 s
 * and 1.1 GB RSS on this machine (52 s and 1.6 GB in the review); now 30 MB of 53,567 documents
 * take 15 s and 297 MB. A Helm release is stored in a Secret of at most 1 MiB, far below this.
 */
export const MAX_INPUT_BYTES = 32 * 1024 * 1024;

const STRINGIFY = { indentSeq: false, flowCollectionPadding: false, lineWidth: 0 } as const;

function unescapePointerToken(token: string): string {
  return token.replaceAll('~1', '/').replaceAll('~0', '~');
}

/** Applies `add` operations (the only kind `mutate` emits) to a YAML document under `base`. */
export function applyToYaml(doc: Document, base: Path, ops: readonly PatchOperation[]): void {
  for (const op of ops) {
    const tokens = op.path.split('/').slice(1).map(unescapePointerToken);
    const last = tokens.pop() as string;
    const parentPath: (string | number)[] = [...base];
    for (const t of tokens) {
      const parent = doc.getIn(parentPath, true);
      parentPath.push(isSeq(parent) ? Number(t) : t);
    }
    const parent = doc.getIn(parentPath, true);
    const value = doc.createNode(op.value, { aliasDuplicateObjects: false });
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

/** `injectManifestBytes` for text that is already a string (tests, the golden comparison). */
export function injectManifests(
  text: string,
  source: string,
  config: InjectorConfig,
  opts: InjectOptions,
): InjectResult<string> {
  const r = injectManifestBytes(Buffer.from(text, 'utf8'), source, config, opts);
  return { ...r, output: r.output.toString('utf8') };
}

interface Injected {
  readonly path: Path;
  readonly pod: Record<string, unknown>;
  readonly patch: PatchOperation[];
}

export function injectManifestBytes(
  input: Buffer,
  source: string,
  config: InjectorConfig,
  opts: InjectOptions,
): InjectResult<Buffer> {
  const notes: string[] = [];
  const problems: string[] = [];
  if (input.length > MAX_INPUT_BYTES) {
    return {
      output: input,
      notes,
      problems: [
        `${source}: ${input.length} bytes, over the ${MAX_INPUT_BYTES}-byte limit of auth-shim inject: split the input`,
      ],
    };
  }
  const invalid = invalidUtf8(input);
  const text = decodeForParsing(input, invalid);

  const parts: Buffer[] = [];
  // Parallel offsets into `text` (UTF-16 units) and `input` (bytes); they advance together.
  let prevChar = 0;
  let prevByte = 0;
  let n = 0;

  const handle = (doc: Document.Parsed): void => {
    n++;
    const endChar = doc.range[2];
    const endByte = prevByte + Buffer.byteLength(text.slice(prevChar, endChar));
    const original = input.subarray(prevByte, endByte);
    const originalText = text.slice(prevChar, endChar);
    const where = `${source}: document ${n}`;
    const badByte = invalid.find((i) => i >= prevByte && i < endByte);
    prevChar = endChar;
    prevByte = endByte;
    if (doc.errors.length > 0) {
      problems.push(`${where}: not valid YAML: ${doc.errors[0]?.message ?? 'parse error'}`);
      parts.push(original);
      return;
    }
    let full: unknown;
    try {
      full = doc.toJS(TO_JS);
    } catch (err) {
      problems.push(`${where}: cannot be read: ${(err as Error).message}`);
      parts.push(original);
      return;
    }
    const injected: Injected[] = [];
    for (const site of podSites(full)) {
      const label = `${where} (${site.kind} ${site.name})`;
      const m = mutate({ pod: site.pod, namespace: site.namespace ?? '', namespaceOptedIn: opts.all, config });
      if (m.outcome === 'invalid') problems.push(`${label}: ${m.problems.join('; ')}`);
      else if (m.outcome === 'skipped') {
        if (m.warn) notes.push(`${label}: not injected: ${m.reason}`);
      } else if (badByte !== undefined) {
        problems.push(
          `${label}: invalid UTF-8 at byte ${badByte}: a document to inject must be UTF-8 (documents left alone ` +
            'are copied as they are)',
        );
      } else {
        injected.push({ path: site.path, pod: m.pod, patch: m.patch });
        notes.push(`${label}: injected${m.warnings.map((w) => `; ${w}`).join('')}`);
      }
    }
    if (injected.length === 0 || badByte !== undefined) {
      parts.push(original);
      return;
    }
    let out = rewrite(doc, full, injected, where, notes);
    // Keep the separator style of the source: `toString` ends with a newline; the slice may not.
    if (!originalText.endsWith('\n')) out = out.replace(/\n$/, '');
    parts.push(Buffer.from(out, 'utf8'));
  };

  try {
    const parser = new Parser();
    const composer = new Composer(READ_OPTIONS);
    for (const token of parser.parse(text)) for (const doc of composer.next(token)) handle(doc);
    for (const doc of composer.end(false, text.length)) handle(doc);
  } catch (err) {
    // Only a stack overflow in a hostile, deeply nested input gets here (issue 15, item 10).
    if (!(err instanceof RangeError)) throw err;
    return {
      output: input,
      notes,
      problems: [...problems, `${source}: document ${n + 1}: cannot be read: ${err.message}`],
    };
  }
  parts.push(input.subarray(prevByte));
  return { output: Buffer.concat(parts), notes, problems };
}

/**
 * The document's new text. With aliases or merge keys, an in-place edit could reach every place
 * that shares the node (an anchored container list injected for one workload, read by another
 * without a sidecar): such a document is written out resolved instead, and a note says so.
 */
function rewrite(
  doc: Document.Parsed,
  full: unknown,
  injected: readonly Injected[],
  where: string,
  notes: string[],
): string {
  let target: Document;
  let expected: unknown;
  if (sharesNodes(doc)) {
    // A JSON copy has no shared objects left, so each pod is replaced at its own place only.
    expected = JSON.parse(JSON.stringify(full)) as unknown;
    for (const i of injected) expected = replaced(expected, i.path, i.pod);
    target = new Document(expected, { aliasDuplicateObjects: false });
    notes.push(
      `${where}: YAML anchors, aliases or merge keys written out resolved (comments of this document dropped)`,
    );
  } else {
    for (const i of injected) {
      applyToYaml(doc, i.path, i.patch);
      // The YAML edit and the mutation must agree; a mismatch is a bug, never silent output.
      if (JSON.stringify(getIn(doc.toJS(TO_JS), i.path)) !== JSON.stringify(i.pod)) {
        throw new Error(`${where}: internal error: the YAML edit does not match the mutation`);
      }
    }
    target = doc;
    expected = doc.toJS(TO_JS);
  }
  writeUnambiguously(target);
  const out = target.toString(STRINGIFY);
  if (!readsAsUnderBoth(out, expected))
    throw new Error(`${where}: internal error: the output does not read the same under YAML 1.1 and 1.2`);
  return out;
}

/** `root` with the value at `path` replaced (the root itself for a bare Pod document). */
function replaced(root: unknown, path: Path, value: unknown): unknown {
  if (path.length === 0) return value;
  const parent = getIn(root, path.slice(0, -1)) as Record<string | number, unknown>;
  parent[path.at(-1) as string | number] = value;
  return root;
}
