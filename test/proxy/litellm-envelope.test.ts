import { describe, expect, it } from 'vitest';
import { decodePythonBytesRepr, unwrapLitellmError } from '../../src/proxy/litellm-envelope.js';

const inner = '{"type":"error","error":{"type":"rate_limit_error","message":"This request would exceed your account\'s rate limit."},"request_id":"req_011CTest"}';

/** What Python's repr(bytes) prints for these bytes (quote choice and escapes as CPython does). */
function pyBytesRepr(bytes: Buffer): string {
  const hasSingle = bytes.includes(0x27);
  const hasDouble = bytes.includes(0x22);
  const quote = hasSingle && !hasDouble ? '"' : "'";
  let out = `b${quote}`;
  for (const b of bytes) {
    if (b === 0x5c) out += '\\\\';
    else if (b === quote.charCodeAt(0)) out += `\\${quote}`;
    else if (b === 0x0a) out += '\\n';
    else if (b === 0x0d) out += '\\r';
    else if (b === 0x09) out += '\\t';
    else if (b < 0x20 || b >= 0x7f) out += `\\x${b.toString(16).padStart(2, '0')}`;
    else out += String.fromCharCode(b);
  }
  return `${out}${quote}`;
}

describe('LiteLLM error envelope (LiteLLM before PR #32133)', () => {
  it('returns the inner Anthropic error and its request_id', () => {
    const body = JSON.stringify({ error: { message: inner, type: 'None', param: 'None', code: '429' } });
    expect(unwrapLitellmError(body)).toEqual({ body: inner, requestId: 'req_011CTest' });
  });

  it('decodes the Python bytes repr LiteLLM uses for stream requests', () => {
    const body = JSON.stringify({ error: { message: pyBytesRepr(Buffer.from(inner)), type: 'None', param: 'None', code: '529' } });
    expect(unwrapLitellmError(body)?.body).toBe(inner);
  });

  it('decodes non-ASCII (\\xNN UTF-8 bytes), quotes and escapes exactly', () => {
    const tricky = '{"type":"error","error":{"type":"overloaded_error","message":"Überlastet — it\'s \\"busy\\"\\n"}}';
    const repr = pyBytesRepr(Buffer.from(tricky, 'utf8'));
    expect(repr).toContain('\\xc3\\x9c');
    expect(decodePythonBytesRepr(repr)).toBe(tricky);
    const body = JSON.stringify({ error: { message: repr, type: 'None', param: 'None', code: '529' } });
    expect(unwrapLitellmError(body)?.body).toBe(tricky);
  });

  it('the double-quoted repr form (bytes containing only single quotes)', () => {
    expect(decodePythonBytesRepr(`b"it's"`)).toBe("it's");
  });

  it.each([
    ['a LiteLLM auth error (its own, not wrapped)', JSON.stringify({ error: { message: 'Authentication Error, Invalid proxy server token passed.', type: 'auth_error', param: 'None', code: '401' } })],
    ['an Anthropic error as-is (newest LiteLLM)', inner],
    ['a message that is not JSON', JSON.stringify({ error: { message: 'upstream exploded', type: 'None', param: 'None', code: '500' } })],
    ['a message that is JSON but not an Anthropic error', JSON.stringify({ error: { message: '{"detail":"x"}', type: 'None', param: 'None', code: '500' } })],
    ['malformed bytes repr', JSON.stringify({ error: { message: "b'\\q'", type: 'None', param: 'None', code: '500' } })],
    ['invalid UTF-8 in bytes repr', JSON.stringify({ error: { message: "b'\\xff\\xfe'", type: 'None', param: 'None', code: '500' } })],
    ['not JSON at all', '<html>502 Bad Gateway</html>'],
    ['a JSON array', '[1,2]'],
  ])('leaves %s alone', (_name, body) => {
    expect(unwrapLitellmError(body)).toBeUndefined();
  });
});
