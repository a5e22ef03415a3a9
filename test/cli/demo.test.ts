import { describe, expect, it } from 'vitest';
import { DEMO_LITELLM_KEY, DEMO_OAUTH_TOKEN } from '../../src/demo/claude-code-request.js';
import { runCli } from '../helpers/child.js';

describe('npm run demo (auth-shim demo)', () => {
  it('shows the translation end to end, secrets masked, and exits 0', async () => {
    const demo = runCli(['demo']);
    const { code } = await demo.exited;
    const out = demo.stdout.join('\n');
    expect(code).toBe(0);
    expect(out).toMatch(/x-api-key\s+sk-ant-oat01-\*\*\*/);
    expect(out).toMatch(/authorization\s+Bearer sk-ant-oat01-\*\*\*/);
    expect(out).toMatch(/anthropic-beta\s+claude-code-20250219,.*,oauth-2025-04-20/);
    expect(out).toMatch(/x-litellm-api-key\s+sk-\*\*\*/);
    expect(out).toContain('byte-identical');
    expect(out).toContain('message_start →');
    const all = out + demo.stderr.join('');
    expect(all).not.toContain(DEMO_OAUTH_TOKEN);
    expect(all).not.toContain(DEMO_LITELLM_KEY);
  });
});
