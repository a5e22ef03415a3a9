/**
 * The traffic every hop gets: one Claude-Code-shaped request (facts.md §2: `POST /v1/messages?beta=true`,
 * the long `anthropic-beta` list, `x-stainless-*`, the OAuth token in `x-api-key` as
 * `ANTHROPIC_API_KEY` sends it) and the fake upstream's fixed answer.
 */
export const OAUTH_TOKEN = `sk-ant-oat01-${'b'.repeat(86)}-bench`;
export const LITELLM_KEY = `sk-litellm-bench-${'c'.repeat(24)}`;
export const BETAS =
  'claude-code-20250219,interleaved-thinking-2025-05-14,' +
  'fine-grained-tool-streaming-2025-05-14,context-management-2025-06-27';
export const OAUTH_BETA = 'oauth-2025-04-20';
export const PATH = '/v1/messages?beta=true';

/** Headers every client sends, in Claude Code's order, minus the credential. */
export const COMMON_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ['Accept', 'application/json'],
  ['Content-Type', 'application/json'],
  ['User-Agent', 'claude-cli/2.1.330 (external, cli)'],
  ['X-Stainless-Arch', 'x64'],
  ['X-Stainless-Lang', 'js'],
  ['X-Stainless-OS', 'Linux'],
  ['X-Stainless-Package-Version', '0.137.0'],
  ['X-Stainless-Retry-Count', '0'],
  ['X-Stainless-Runtime', 'node'],
  ['X-Stainless-Runtime-Version', 'v24.21.0'],
  ['X-Stainless-Timeout', '600'],
  ['anthropic-dangerous-direct-browser-access', 'true'],
  ['anthropic-version', '2023-06-01'],
  ['x-app', 'cli'],
  ['X-Claude-Code-Session-Id', '6f1c2a4e-0b7d-4c1e-9a53-2d8f0e6b7c91'],
];

/** What the agent sends to a credential-translating hop (auth-shim, nginx). */
export function agentHeaders(): Array<readonly [string, string]> {
  return [...COMMON_HEADERS, ['anthropic-beta', BETAS], ['x-api-key', OAUTH_TOKEN]];
}

/** What a translating hop sends on — and what a client must send itself without one (direct, LiteLLM). */
export function translatedHeaders(litellmKey: string): Array<readonly [string, string]> {
  return [
    ...COMMON_HEADERS,
    ['anthropic-beta', `${BETAS},${OAUTH_BETA}`],
    ['Authorization', `Bearer ${OAUTH_TOKEN}`],
    ['x-litellm-api-key', litellmKey],
  ];
}

/** A short Claude Code turn: system blocks, one user message (~2 KB). */
export function requestBody(stream: boolean): string {
  return JSON.stringify({
    model: 'claude-sonnet-4-5',
    max_tokens: 32000,
    stream,
    system: [
      {
        type: 'text',
        text: "You are Claude Code, Anthropic's official CLI for Claude.",
        cache_control: { type: 'ephemeral' },
      },
      {
        type: 'text',
        text: 'You are an interactive CLI tool that helps users with software engineering tasks. '.repeat(12),
      },
    ],
    messages: [
      {
        role: 'user',
        content: [{ type: 'text', text: 'Summarise the README of this repository in three sentences.' }],
      },
    ],
    metadata: { user_id: 'user_bench_0001' },
  });
}

/** The fake upstream's non-streaming answer, with usage so the shim's usage tap does its real work. */
export const RESPONSE_JSON = JSON.stringify({
  id: 'msg_01benchbenchbenchbenchbe',
  type: 'message',
  role: 'assistant',
  model: 'claude-sonnet-4-5',
  content: [
    {
      type: 'text',
      text: 'auth-shim is a loopback sidecar that puts every Anthropic credential in the one shape that works.',
    },
  ],
  stop_reason: 'end_turn',
  stop_sequence: null,
  usage: { input_tokens: 1210, output_tokens: 24, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 },
});

/**
 * The same request with one more user turn of filler text, to about `kib` KiB in all: a longer
 * conversation, past the 16 KiB below which auth-shim forwards a body with its head in one write.
 */
export function conversationBody(kib: number): string {
  const base = requestBody(false);
  const body = JSON.parse(base) as { messages: Array<{ role: string; content: unknown }> };
  body.messages.push({
    role: 'user',
    content: 'earlier turn '.repeat(Math.max(0, Math.ceil((kib * 1024 - base.length) / 13))),
  });
  return JSON.stringify(body);
}
