/**
 * LiteLLM before PR #32133 wraps an upstream Anthropic error in its own envelope, keeping the status:
 *   {"error":{"message":"<Anthropic error JSON, escaped>","type":"None","param":"None","code":"429"}}
 * and for `stream: true` requests the message is a Python bytes repr: "b'{\"type\":\"error\",…}'".
 * Clients then see an unknown error type and retry wrongly (Claude Code spent 11 attempts on a
 * wrapped `overloaded_error`). We return the inner Anthropic error unchanged; anything that is not
 * exactly this shape is left alone.
 */

/** Error bodies larger than this are never inspected (the envelope is a few hundred bytes). */
export const MAX_ENVELOPE_BYTES = 64 * 1024;

export interface UnwrappedError {
  /** The inner Anthropic error, as LiteLLM received it. */
  readonly body: string;
  /** The inner `request_id`, to restore the `request-id` header SDKs read. */
  readonly requestId: string | undefined;
}

export function unwrapLitellmError(raw: string): UnwrappedError | undefined {
  const outer = parseObject(raw);
  const envelope = outer?.['error'];
  if (!isObject(envelope) || typeof envelope['message'] !== 'string') return undefined;
  // LiteLLM stringifies Python's None for type and param; anything else is LiteLLM's own error.
  if (envelope['type'] !== 'None') return undefined;

  let message = envelope['message'];
  if (message.startsWith("b'") || message.startsWith('b"')) {
    const decoded = decodePythonBytesRepr(message);
    if (decoded === undefined) return undefined;
    message = decoded;
  }
  const inner = parseObject(message);
  if (inner === undefined || inner['type'] !== 'error') return undefined;
  const error = inner['error'];
  if (!isObject(error) || typeof error['type'] !== 'string') return undefined;
  const requestId = typeof inner['request_id'] === 'string' ? inner['request_id'] : undefined;
  return { body: message, requestId };
}

/**
 * Decodes Python's `repr(bytes)`: `b'…'` or `b"…"` with `\\`, `\'`, `\"`, `\n`, `\r`, `\t` and
 * `\xNN` escapes, then reads the bytes as UTF-8. Returns undefined for anything malformed.
 */
export function decodePythonBytesRepr(repr: string): string | undefined {
  const quote = repr[1];
  if (repr.length < 3 || repr[0] !== 'b' || (quote !== "'" && quote !== '"') || repr[repr.length - 1] !== quote) {
    return undefined;
  }
  const bytes: number[] = [];
  const end = repr.length - 1;
  for (let i = 2; i < end; i++) {
    const c = repr.charCodeAt(i);
    if (c > 0x7e || c < 0x20) return undefined; // repr(bytes) is printable ASCII only
    if (c !== 0x5c /* \ */) {
      bytes.push(c);
      continue;
    }
    const e = repr[++i];
    switch (e) {
      case '\\': bytes.push(0x5c); break;
      case "'": bytes.push(0x27); break;
      case '"': bytes.push(0x22); break;
      case 'n': bytes.push(0x0a); break;
      case 'r': bytes.push(0x0d); break;
      case 't': bytes.push(0x09); break;
      case 'x': {
        const hex = repr.slice(i + 1, i + 3);
        if (!/^[0-9a-fA-F]{2}$/.test(hex)) return undefined;
        bytes.push(Number.parseInt(hex, 16));
        i += 2;
        break;
      }
      default:
        return undefined;
    }
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes));
  } catch {
    return undefined;
  }
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return isObject(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
