import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { loadProxyConfig } from '../config/proxy-config.js';
import { maskSecret } from '../vocabulary/redaction.js';
import { claudeCodeRequest, DEMO_LITELLM_KEY, DEMO_OAUTH_TOKEN } from '../demo/claude-code-request.js';
import { startFakeAnthropic } from '../demo/fake-anthropic.js';
import { startProxy } from '../app/sidecar.js';
import { createLogger } from '../telemetry/logger.js';

const SECRET_HEADERS = new Set(['authorization', 'x-api-key', 'x-litellm-api-key']);

function show(value: string, name: string): string {
  if (!SECRET_HEADERS.has(name.toLowerCase())) return value;
  return value.startsWith('Bearer ') ? `Bearer ${maskSecret(value.slice(7))}` : maskSecret(value);
}

function table(flat: readonly string[]): string {
  const rows: string[] = [];
  for (let i = 0; i < flat.length; i += 2)
    rows.push(`    ${(flat[i] as string).toLowerCase().padEnd(44)} ${show(flat[i + 1] as string, flat[i] as string)}`);
  return rows.join('\n');
}

/** `auth-shim demo`: shows the translation end to end on loopback, secrets masked. */
export async function runDemo(_args: string[]): Promise<number> {
  const out = (s = ''): boolean => process.stdout.write(`${s}\n`);
  const fake = await startFakeAnthropic();
  const dir = await mkdtemp(join(tmpdir(), 'auth-shim-demo-'));
  const keyFile = join(dir, 'litellm-key');
  await writeFile(keyFile, `${DEMO_LITELLM_KEY}\n`);
  const config = loadProxyConfig({
    AUTH_SHIM_UPSTREAM_URL: fake.url,
    AUTH_SHIM_LISTEN: '127.0.0.1:0',
    AUTH_SHIM_ADMIN_LISTEN: '127.0.0.1:0',
    AUTH_SHIM_LITELLM_KEY_FILE: keyFile,
    AUTH_SHIM_LOG_LEVEL: 'info',
  });
  const log = createLogger('info', process.stderr as unknown as import('pino').DestinationStream);
  const proxy = await startProxy(config, { log, defaultMetrics: false });
  try {
    const { headers, body } = claudeCodeRequest(DEMO_OAUTH_TOKEN);
    const flatSent = Object.entries(headers).flat();
    out('auth-shim demo — a fake Anthropic upstream and the shim, both on loopback');
    out(`  shim:     ${proxy.url}   (agent: ANTHROPIC_BASE_URL=${proxy.url})`);
    out(`  upstream: ${fake.url}   (stands in for LiteLLM /anthropic → api.anthropic.com)`);
    out();
    out('1. The agent sends (Claude Code with ANTHROPIC_API_KEY=sk-ant-oat…):');
    out(`    POST /v1/messages?beta=true`);
    out(table(flatSent));
    const res = await request(`${proxy.url}/v1/messages?beta=true`, { method: 'POST', headers, body });
    const text = await res.body.text();
    const got = fake.requests.at(-1);
    if (got === undefined) throw new Error('the fake upstream received nothing');
    out();
    out('2. The upstream receives:');
    out(`    ${got.method} ${got.url}`);
    out(table(got.rawHeaders));
    out();
    out('3. What changed:');
    out(
      '    x-api-key: sk-ant-oat…      → authorization: Bearer sk-ant-oat…  (OAuth tokens are only accepted as Bearer)',
    );
    out('    anthropic-beta              → the same list + oauth-2025-04-20');
    out('    (none)                      → x-litellm-api-key from AUTH_SHIM_LITELLM_KEY_FILE');
    out(
      `    body                        → ` +
        `${got.body.equals(Buffer.from(body)) ? 'byte-identical' : 'DIFFERENT (bug!)'} (${got.body.length} bytes)`,
    );
    out();
    const events = text
      .split('\n')
      .filter((l) => l.startsWith('event: '))
      .map((l) => l.slice(7));
    out(
      `4. The agent receives HTTP ${res.statusCode}, ` +
        `${res.headers['content-type'] as string}: ${events.length} SSE events`,
    );
    out(`    ${events.join(' → ')}`);
    out();
    out('The request log line (stderr) never contains a credential. Try: npm test');
    return res.statusCode === 200 ? 0 : 1;
  } finally {
    await proxy.shutdown();
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  }
}
