import { isObject } from '../vocabulary/guards.js';
/** Token counts as Anthropic reports them; a field is absent when the response did not say. */
export interface Usage {
  input?: number;
  output?: number;
  cacheRead?: number;
  cacheCreation?: number;
}

export interface UsageResult {
  readonly usage: Usage;
  readonly model: unknown;
  /** Set when usage may have been present but could not be read. */
  readonly problem?: 'too_large' | 'unparseable';
}

/** Longest SSE line kept across chunks; `message_start`/`message_delta` lines are ~1 KB. */
export const MAX_SSE_LINE_BYTES = 64 * 1024;
/** Largest non-streaming JSON body held for its `usage`; bigger bodies are not counted. */
export const MAX_JSON_BYTES = 1024 * 1024;

const LF = 0x0a;
const CR = 0x0d;
const DATA = Buffer.from('data:');
const EVENT = Buffer.from('event:');

type EventKind = 'none' | 'start' | 'delta' | 'other';

/**
 * Reads token usage out of an Anthropic SSE stream, chunk by chunk, without copying the stream:
 * lines are found with `indexOf`, and only `message_start` and `message_delta` data (and data of
 * events with no `event:` line) are decoded. The only state carried between chunks is the
 * unfinished line (capped at MAX_SSE_LINE_BYTES), and none at all for a long line of an event we
 * ignore (`content_block_delta` text). CRLF and LF line ends both work (WHATWG HTML §9.2.6);
 * a bare-CR line end is not supported (Anthropic and LiteLLM never send one).
 *
 * `message_delta` usage is cumulative (Anthropic's streaming docs), so its fields replace those
 * of `message_start`; the totals are read once, at the end.
 */
export class SseUsageScanner {
  readonly usage: Usage = {};
  model: unknown = undefined;
  #partial: Buffer | undefined;
  #skipping = false;
  #event: EventKind = 'none';
  #data: string | undefined;
  #overflowed = false;
  #sawUsage = false;
  #bad = false;

  push(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      const nl = chunk.indexOf(LF, pos);
      if (nl === -1) {
        this.#carry(chunk.subarray(pos));
        return;
      }
      if (this.#skipping) {
        this.#skipping = false;
      } else if (this.#partial !== undefined) {
        const line = Buffer.concat([this.#partial, chunk.subarray(pos, nl)]);
        this.#partial = undefined;
        this.#line(line);
      } else {
        this.#line(chunk.subarray(pos, nl));
      }
      pos = nl + 1;
    }
  }

  finish(): UsageResult {
    if (this.#partial !== undefined) {
      this.#line(this.#partial);
      this.#partial = undefined;
    }
    this.#dispatch();
    const problem = this.#sawUsage ? undefined : this.#overflowed ? 'too_large' : this.#bad ? 'unparseable' : undefined;
    return { usage: this.usage, model: this.model, ...(problem === undefined ? {} : { problem }) };
  }

  /** Keeps the start of an unfinished line for the next chunk, unless it can be ignored. */
  #carry(rest: Buffer): void {
    if (this.#skipping || rest.length === 0) return;
    const size = (this.#partial?.length ?? 0) + rest.length;
    if (size > MAX_SSE_LINE_BYTES) {
      if (this.#event !== 'other') this.#overflowed = true;
      this.#partial = undefined;
      this.#skipping = true;
      return;
    }
    // Copied: holding a subarray would pin the whole upstream chunk in memory.
    const kept = this.#partial === undefined ? Buffer.from(rest) : Buffer.concat([this.#partial, rest]);
    if (this.#event === 'other' && startsWith(kept, DATA)) {
      this.#partial = undefined;
      this.#skipping = true;
      return;
    }
    this.#partial = kept;
  }

  #line(raw: Buffer): void {
    const line = raw.length > 0 && raw[raw.length - 1] === CR ? raw.subarray(0, raw.length - 1) : raw;
    if (line.length === 0) {
      this.#dispatch();
      return;
    }
    if (startsWith(line, DATA)) {
      if (this.#event === 'other') return;
      const from = line[DATA.length] === 0x20 ? DATA.length + 1 : DATA.length;
      const value = line.toString('utf8', from);
      this.#data = this.#data === undefined ? value : `${this.#data}\n${value}`;
      if (this.#data.length > MAX_SSE_LINE_BYTES) {
        this.#overflowed = true;
        this.#data = undefined;
        this.#event = 'other';
      }
    } else if (startsWith(line, EVENT)) {
      const name = line.toString('latin1', EVENT.length).trim();
      this.#event = name === 'message_start' ? 'start' : name === 'message_delta' ? 'delta' : 'other';
    }
    // `id:`, `retry:` and `:` comments carry nothing we need.
  }

  /** End of an event (blank line): read its data if it is one we want. */
  #dispatch(): void {
    const data = this.#data;
    const kind = this.#event;
    this.#data = undefined;
    this.#event = 'none';
    if (data === undefined || kind === 'other') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      // A stream may be cut mid-event; only an event we needed counts as unreadable.
      if (kind !== 'none') this.#bad = true;
      return;
    }
    const event = record(parsed);
    if (event?.type === 'message_start') {
      const message = record(event.message);
      this.model = message?.model;
      if (readUsage(message?.usage, this.usage)) this.#sawUsage = true;
    } else if (event?.type === 'message_delta') {
      if (readUsage(event.usage, this.usage)) this.#sawUsage = true;
    }
  }
}

/** Holds a non-streaming JSON body (up to `max` bytes) to read its `usage` and `model` at the end. */
export class JsonUsageCollector {
  readonly #max: number;
  #chunks: Buffer[] | undefined = [];
  #size = 0;

  constructor(max = MAX_JSON_BYTES) {
    this.#max = max;
  }

  push(chunk: Buffer): void {
    if (this.#chunks === undefined) return;
    this.#size += chunk.length;
    if (this.#size > this.#max) this.#chunks = undefined;
    else this.#chunks.push(chunk); // kept by reference: undici hands each chunk over once
  }

  finish(): UsageResult {
    const usage: Usage = {};
    if (this.#chunks === undefined) return { usage, model: undefined, problem: 'too_large' };
    let body: Record<string, unknown> | undefined;
    try {
      body = record(JSON.parse(Buffer.concat(this.#chunks, this.#size).toString('utf8')));
    } catch {
      return { usage, model: undefined, problem: 'unparseable' };
    } finally {
      this.#chunks = undefined;
    }
    // count_tokens, /v1/models and other JSON answers have no `usage`: nothing to count.
    readUsage(body?.usage, usage);
    return { usage, model: body?.model };
  }
}

/** Copies the known, well-formed fields of an Anthropic `usage` object; true if any was found. */
function readUsage(value: unknown, into: Usage): boolean {
  const u = record(value);
  if (u === undefined) return false;
  let found = false;
  const take = (key: string, field: keyof Usage): void => {
    const n = u[key];
    if (typeof n === 'number' && Number.isSafeInteger(n) && n >= 0) {
      into[field] = n;
      found = true;
    }
  };
  take('input_tokens', 'input');
  take('output_tokens', 'output');
  take('cache_read_input_tokens', 'cacheRead');
  take('cache_creation_input_tokens', 'cacheCreation');
  return found;
}

function record(value: unknown): Record<string, unknown> | undefined {
  return isObject(value) ? value : undefined;
}

function startsWith(buf: Buffer, prefix: Buffer): boolean {
  return buf.length >= prefix.length && buf.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;
}
