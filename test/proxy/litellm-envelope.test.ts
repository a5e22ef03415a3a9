import { describe, expect, it } from 'vitest';
import { decodePythonBytesRepr, unwrapLitellmError } from '../../src/proxy/litellm-envelope.js';

const inner =
  '{"type":"error","error":{"type":"rate_limit_error",' +
  '"message":"This request would exceed your account\'s rate limit."},"request_id":"req_011CTest"}';

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
    expect(unwrapLitellmError(body, 429)).toEqual({
      kind: 'wrapped',
      body: inner,
      requestId: 'req_011CTest',
      retry: undefined,
    });
  });

  it('decodes the Python bytes repr LiteLLM uses for stream requests', () => {
    const body = JSON.stringify({
      error: { message: pyBytesRepr(Buffer.from(inner)), type: 'None', param: 'None', code: '529' },
    });
    expect(unwrapLitellmError(body, 529)?.body).toBe(inner);
  });

  it('decodes non-ASCII (\\xNN UTF-8 bytes), quotes and escapes exactly', () => {
    const tricky = '{"type":"error","error":{"type":"overloaded_error","message":"Überlastet — it\'s \\"busy\\"\\n"}}';
    const repr = pyBytesRepr(Buffer.from(tricky, 'utf8'));
    expect(repr).toContain('\\xc3\\x9c');
    expect(decodePythonBytesRepr(repr)).toBe(tricky);
    const body = JSON.stringify({ error: { message: repr, type: 'None', param: 'None', code: '529' } });
    expect(unwrapLitellmError(body, 529)?.body).toBe(tricky);
  });

  it('the double-quoted repr form (bytes containing only single quotes)', () => {
    expect(decodePythonBytesRepr(`b"it's"`)).toBe("it's");
  });

  it("LiteLLM's own error (a bad virtual key) becomes an Anthropic error, without the key fragment it echoes", () => {
    const body = JSON.stringify({
      error: {
        message:
          'Authentication Error, Invalid proxy server token passed. ' +
          'Received API Key = sk-...ab12, Key Hash (Token)=7f3a',
        type: 'auth_error',
        param: 'None',
        code: '401',
      },
    });
    const r = unwrapLitellmError(body, 401);
    expect(r?.kind).toBe('litellm');
    expect(r?.retry).toBe(false);
    expect(JSON.parse(r?.body ?? '')).toEqual({
      type: 'error',
      error: {
        type: 'authentication_error',
        message:
          'LiteLLM: Authentication Error, Invalid proxy server token passed. ' +
          'Received API Key = sk-***, Key Hash (Token)=7f3a',
      },
    });
  });

  it.each([400, 422])(
    'a virtual key over budget (LiteLLM %i, `budget_exceeded`) is a billing_error nobody should retry',
    (status) => {
      const body = JSON.stringify({
        error: {
          message: 'Budget has been exceeded! Key=key (sk-...TVww) Current cost: 0.00015, Max budget: 0.0001',
          type: 'budget_exceeded',
          param: null,
          code: String(status),
        },
      });
      const r = unwrapLitellmError(body, status);
      expect(r?.retry).toBe(false);
      expect(JSON.parse(r?.body ?? '')).toEqual({
        type: 'error',
        error: {
          type: 'billing_error',
          message: 'LiteLLM: Budget has been exceeded! Key=key (sk-***) Current cost: 0.00015, Max budget: 0.0001',
        },
      });
    },
  );

  it.each([
    [400, 'invalid_request_error'],
    [403, 'permission_error'],
    [404, 'not_found_error'],
    [429, 'rate_limit_error'],
    [500, 'api_error'],
    [503, 'api_error'],
    [529, 'overloaded_error'],
  ])('LiteLLM status %i → %s', (status, type) => {
    const body = JSON.stringify({ error: { message: 'x', type: 'None', param: 'None', code: String(status) } });
    expect(JSON.parse(unwrapLitellmError(body, status)?.body ?? '')).toMatchObject({ type: 'error', error: { type } });
  });

  it.each([
    ['an Anthropic error as-is (newest LiteLLM)', inner],
    [
      'an Anthropic error that also has an error object',
      '{"type":"error","error":{"type":"api_error","message":"x","param":null,"code":1}}',
    ],
    [
      'another gateway\'s {"error":{"message"}} without LiteLLM\'s fields',
      JSON.stringify({ error: { message: 'nope' } }),
    ],
    ['not JSON at all', '<html>502 Bad Gateway</html>'],
    ['a JSON array', '[1,2]'],
  ])('leaves %s alone', (_name, body) => {
    expect(unwrapLitellmError(body, 500)).toBeUndefined();
  });

  it("a wrapped message that is not an Anthropic error is reshaped as LiteLLM's own", () => {
    for (const message of ['upstream exploded', '{"detail":"x"}', "b'\\q'", "b'\\xff\\xfe'"]) {
      const r = unwrapLitellmError(
        JSON.stringify({ error: { message, type: 'None', param: 'None', code: '500' } }),
        500,
      );
      expect(r?.kind, message).toBe('litellm');
      expect(JSON.parse(r?.body ?? '').error.type).toBe('api_error');
    }
  });
});
