/**
 * The demo's traffic, also the tests' Claude-Code-shaped request: made-up credentials and one request as
 * Claude Code sends it. Nothing here leaves this machine.
 */

/** Made-up credentials, shaped like the real ones; nothing leaves this machine. */
export const DEMO_OAUTH_TOKEN = `sk-ant-oat01-${'demoDEMOdemo'.repeat(8)}-AA`;
export const DEMO_LITELLM_KEY = 'sk-demo-litellm-virtual-key-0123456789';

/** A request shaped like Claude Code's (`ANTHROPIC_API_KEY=sk-ant-oat…`), the case auth-shim exists for. */
export function claudeCodeRequest(token: string): { headers: Record<string, string>; body: string } {
  const body = JSON.stringify({
    model: 'claude-sonnet-4-5',
    max_tokens: 1024,
    stream: true,
    system: [{ type: 'text', text: "You are Claude Code, Anthropic's official CLI for Claude." }],
    messages: [{ role: 'user', content: 'Say hello.' }],
  });
  return {
    body,
    headers: {
      'x-api-key': token,
      'anthropic-version': '2023-06-01',
      'anthropic-beta': 'claude-code-20250219,interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14',
      'anthropic-dangerous-direct-browser-access': 'true',
      'user-agent': 'claude-cli/2.1.330 (external, cli)',
      'x-app': 'cli',
      'x-claude-code-session-id': '6f1c1a52-3b9e-4d0b-9a59-0c2d1f7e8a11',
      'x-stainless-lang': 'js',
      'x-stainless-retry-count': '0',
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
    },
  };
}
