import { describe, expect, it } from 'vitest';
import { parseCredential } from '../../src/credentials/read-credential.js';
import { tokenProblem } from '../../src/credentials/token.js';
import { classifyToken } from '../../src/vocabulary/credentials.js';
import { maskSecret, quoteValue } from '../../src/vocabulary/redaction.js';
import { API_KEY, LITELLM_KEY, OAUTH } from '../helpers/shim.js';

describe('credential values', () => {
  it('classify by prefix, one word only', () => {
    expect(classifyToken(OAUTH)).toBe('oauth');
    expect(classifyToken(API_KEY)).toBe('api-key');
    expect(classifyToken(LITELLM_KEY)).toBeUndefined();
    for (const compound of [`${OAUTH},${API_KEY}`, `${OAUTH} ${API_KEY}`, `${OAUTH}\t${LITELLM_KEY}`, `${OAUTH};x`]) {
      expect(classifyToken(compound), compound.slice(-20)).toBeUndefined();
    }
  });

  it('Secret slots reject two values in one file with a message that says so, never the value', () => {
    const p = tokenProblem('oauth', `${OAUTH},${API_KEY}`);
    expect(p).toContain('a comma or space usually means two values in one Secret');
    expect(p).not.toContain('sk-ant-oat01-A');
    expect(parseCredential(`${API_KEY},${OAUTH}\n`, 'api-key', '/s/key')).toMatchObject({ ok: false });
  });

  it('Secret slots: trimmed, wrong kinds named, LiteLLM slot refuses Anthropic secrets', () => {
    expect(parseCredential(`  ${OAUTH}\r\n`, 'oauth', 'f')).toEqual({ ok: true, value: OAUTH, expiresAt: undefined });
    expect(tokenProblem('oauth', API_KEY)).toContain('holds an Anthropic API key');
    expect(tokenProblem('api-key', OAUTH)).toContain('holds a subscription OAuth token');
    expect(tokenProblem('litellm-key', OAUTH)).toContain('expected a LiteLLM virtual key');
    expect(tokenProblem('litellm-key', LITELLM_KEY)).toBeUndefined();
    expect(tokenProblem('oauth', '')).toBe('is empty');
  });

  it('masks and quotes never show secret characters', () => {
    expect(maskSecret(OAUTH)).toBe(`sk-ant-oat01-***(${OAUTH.length} chars)`);
    expect(maskSecret(LITELLM_KEY)).toBe(`sk-***(${LITELLM_KEY.length} chars)`);
    expect(quoteValue(`x ${OAUTH}`)).not.toContain('Aa1');
    expect(quoteValue('litellm:4000')).toBe('"litellm:4000"');
  });
});
