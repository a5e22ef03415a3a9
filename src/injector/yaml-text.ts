import { isUtf8 } from 'node:buffer';
import {
  isPair,
  isScalar,
  parseDocument,
  visit,
  type Document,
  type DocumentOptions,
  type ParseOptions,
  type SchemaOptions,
  type ToJSOptions,
} from 'yaml';

/**
 * How `auth-shim inject` reads and writes YAML so that what it decides on is what kubectl applies,
 * and what it writes reads the same to every parser (issue 15).
 *
 * kubectl reads YAML 1.1 (go-yaml v2): merge keys (`<<:`) apply, and plain `yes`, `no`, `on`,
 * `off`, `y`, `n` are booleans. go-yaml v2 gives timestamps to untyped values as strings and has
 * no base-60 numbers, so those two YAML 1.1 types are left out here too.
 */
export const READ_OPTIONS: ParseOptions & DocumentOptions & SchemaOptions = {
  version: '1.1',
  merge: true,
  customTags: (tags) =>
    tags.filter((t) =>
      typeof t === 'string'
        ? t !== 'timestamp' && t !== 'intTime' && t !== 'floatTime'
        : t.tag !== 'tag:yaml.org,2002:timestamp' && t.format !== 'TIME',
    ),
};

/** A YAML 1.2 (core schema) reader: what most non-Kubernetes tools use. */
const READ_12: ParseOptions & DocumentOptions & SchemaOptions = { version: '1.2', merge: false };

/** Aliases expand to at most this many nodes per document (yaml's guard against "billion laughs"). */
export const TO_JS: ToJSOptions = { maxAliasCount: 1000 };

/** Bytes that are not part of a valid UTF-8 sequence, by offset (the WHATWG decoder's notion, byte by byte). */
export function invalidUtf8(buf: Uint8Array): number[] {
  if (isUtf8(buf)) return [];
  const bad: number[] = [];
  for (let i = 0; i < buf.length; ) {
    const n = sequenceLength(buf, i);
    if (n === 0) bad.push(i++);
    else i += n;
  }
  return bad;
}

/** Length of the valid UTF-8 sequence at `i`, or 0 (RFC 3629: no overlongs, no surrogates, ≤ U+10FFFF). */
function sequenceLength(b: Uint8Array, i: number): number {
  const c = b[i] as number;
  if (c < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf) =>
    i + k < b.length && (b[i + k] as number) >= lo && (b[i + k] as number) <= hi;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    const [lo, hi] = c === 0xe0 ? [0xa0, 0xbf] : c === 0xed ? [0x80, 0x9f] : [0x80, 0xbf];
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    const [lo, hi] = c === 0xf0 ? [0x90, 0xbf] : c === 0xf4 ? [0x80, 0x8f] : [0x80, 0xbf];
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

/**
 * The text to parse: the bytes as UTF-8, each invalid byte replaced by one `?`, so that string
 * offsets map back to byte offsets exactly and an untouched document can be copied from the
 * original bytes. A document that holds such a byte is never rewritten (manifests.ts).
 */
export function decodeForParsing(buf: Buffer, invalid: readonly number[]): string {
  if (invalid.length === 0) return buf.toString('utf8');
  const copy = Buffer.from(buf);
  for (const i of invalid) copy[i] = 0x3f;
  return copy.toString('utf8');
}

/** True when the document uses an alias or a merge key anywhere: editing it in place could change what they share. */
export function sharesNodes(doc: Document): boolean {
  let found = false;
  visit(doc, {
    Alias() {
      found = true;
      return visit.BREAK;
    },
    Pair(_, pair) {
      if (isPair(pair) && isScalar(pair.key) && (pair.key.source === '<<' || pair.key.value === '<<')) {
        found = true;
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return found;
}

const plainMeaning = new Map<string, boolean>();

/**
 * A string that, written plain, a YAML 1.1 or 1.2 reader would take for something else
 * (`no`, `0o17`, `1_000`, `~`).
 */
function ambiguous(s: string): boolean {
  // Only these can start a non-string plain scalar in either version; anything else cannot.
  if (s.length > 64 || !/^(?:[-+.~0-9<=]|(?:y|yes|n|no|true|false|on|off|null)$)/i.test(s)) return false;
  let hit = plainMeaning.get(s);
  if (hit === undefined) {
    hit = [READ_OPTIONS, READ_12].some((o) => {
      const d = parseDocument(s, o);
      return d.errors.length > 0 || d.toJS() !== s;
    });
    if (plainMeaning.size < 10_000) plainMeaning.set(s, hit);
  }
  return hit;
}

/**
 * Makes a document read the same under YAML 1.1 and 1.2: strings that look like another type are
 * double-quoted, and numbers, booleans and nulls are written in the one form both read alike
 * (decimal, `true`/`false`, `null`) instead of their source form (`0755`, `yes`, `~`).
 */
export function writeUnambiguously(doc: Document): void {
  visit(doc, {
    Scalar(_, node) {
      if (typeof node.value === 'string') {
        if (node.type === 'PLAIN' || node.type === undefined) {
          if (ambiguous(node.value)) node.type = 'QUOTE_DOUBLE';
        }
      } else {
        delete node.source;
        delete node.format;
      }
    },
  });
}

/** Whether `text` reads as `expected` to both a YAML 1.1 (kubectl) and a YAML 1.2 reader. */
export function readsAsUnderBoth(text: string, expected: unknown): boolean {
  const want = JSON.stringify(expected);
  return [READ_OPTIONS, READ_12].every((o) => {
    const d = parseDocument(text, o);
    return d.errors.length === 0 && JSON.stringify(d.toJS(TO_JS)) === want;
  });
}
