/**
 * Shows where LiteLLM's zero spend on streamed `/anthropic` pass-through comes from (issue 18,
 * docs/PEERS.md): one non-streamed and one streamed request with a virtual key, once against the
 * fake Anthropic as `http://127.0.0.1:<port>` and once as `http://api.anthropic.com:<port>` reached
 * through a loopback HTTP forward proxy, then LiteLLM's SpendLogs rows for each.
 * Run: `npx node --import ./bench/hooks.ts scripts/litellm-stream-spend-by-host.ts [version]`.
 */
import Anthropic from '@anthropic-ai/sdk';
import { createServer, request as httpRequest } from 'node:http';
import { startFakeAnthropic } from '../src/demo/fake-anthropic.js';
import { startLitellmDb } from '../test/e2e/_litellm-db.js';
import { LITELLM_NEW } from '../test/e2e/_peers.js';

const version = process.argv[2] ?? LITELLM_NEW;
const fake = await startFakeAnthropic();
const target = new URL(fake.url);
// LiteLLM believes it talks to api.anthropic.com; the proxy sends every request to the fake on loopback.
const proxy = createServer((req, res) => {
  const u = new URL(req.url ?? '/', 'http://x');
  const up = httpRequest(
    { host: target.hostname, port: target.port, method: req.method, path: u.pathname + u.search, headers: req.headers },
    (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    },
  );
  req.pipe(up);
});
await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
const proxyUrl = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;

async function rows(base: string, env: Record<string, string>): Promise<string> {
  const l = await startLitellmDb(version, base, env);
  try {
    const key = await l.generateKey({});
    // x-api-key: null drops the SDK's own header; LiteLLM takes the virtual key from x-litellm-api-key.
    const client = new Anthropic({
      apiKey: 'unused',
      baseURL: l.anthropicUrl,
      maxRetries: 0,
      defaultHeaders: { 'x-litellm-api-key': key, authorization: 'Bearer sk-ant-oat01-spend-probe', 'x-api-key': null },
    });
    const params = { model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user' as const, content: 'hi' }] };
    await client.messages.create(params);
    await client.messages.stream(params).finalMessage();
    for (let i = 0; i < 60; i++) {
      const out = await l.postgres.psql([
        '-At',
        '-c',
        `SELECT spend || ' / ' || total_tokens || ' tokens' FROM "LiteLLM_SpendLogs" ORDER BY "startTime"`,
      ]);
      if (out.trim().split('\n').length >= 2) return `${out.trim().replace('\n', ' (non-streamed); ')} (streamed)`;
      await new Promise((r) => setTimeout(r, 500));
    }
    return 'spend logs never written';
  } finally {
    await l.stop();
  }
}

try {
  console.log(`LiteLLM ${version}, upstream http://127.0.0.1:${target.port}: ${await rows(fake.url, {})}`);
  const viaName = await rows(`http://api.anthropic.com:${target.port}`, {
    HTTP_PROXY: proxyUrl,
    http_proxy: proxyUrl,
    NO_PROXY: 'localhost,127.0.0.1',
    no_proxy: 'localhost,127.0.0.1',
  });
  console.log(`LiteLLM ${version}, upstream http://api.anthropic.com:${target.port} (via proxy): ${viaName}`);
} finally {
  await fake.close();
  proxy.close();
}
