/**
 * Finds the LiteLLM release that stopped forwarding `x-litellm-api-key` to Anthropic (issue 18,
 * item 4): 1.82.6 forwards it, 1.106.4 does not. Each probe installs a release into `.peers/`
 * (as test/e2e does), starts it without a database in front of the recording fake Anthropic, sends
 * one `/anthropic/v1/messages` call with the master key in `x-litellm-api-key`, and looks at what
 * arrived. Run: `npx node --import ./bench/hooks.ts scripts/bisect-litellm-key-forwarding.ts`.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startFakeAnthropic } from '../src/demo/fake-anthropic.js';
import { ensureLitellm, startLitellm } from '../test/e2e/_peers.js';

const GOOD = '1.82.6';
const BAD = '1.106.4';
/** facts.md §3: malicious or compromised uploads, never installed. */
const NEVER = new Set(['1.82.7', '1.82.8', '1.107.0']);
/** 1.106.x needs a certifi the index here lacks; a CA bundle a day older is safe for loopback HTTP. */
const OVERRIDES = ['certifi==2026.10.18'];

function key(v: string): number[] {
  return v.split(/[.]/).map((p) => Number.parseInt(p, 10));
}
function cmp(a: string, b: string): number {
  const x = key(a),
    y = key(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++)
    if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
}

async function releases(): Promise<string[]> {
  const py = await ensureLitellm(BAD).then((bin) => bin.replace(/litellm$/, 'python'));
  const { stdout } = await promisify(execFile)(py, ['-m', 'pip', 'index', 'versions', 'litellm']);
  const list = /Available versions: (.*)/.exec(stdout)?.[1]?.split(', ') ?? [];
  return list
    .filter((v) => /^\d+\.\d+\.\d+$/.test(v) && !NEVER.has(v) && cmp(v, GOOD) > 0 && cmp(v, BAD) < 0)
    .sort(cmp);
}

async function forwards(version: string): Promise<boolean> {
  const fake = await startFakeAnthropic();
  const litellm = await startLitellm(version, fake.url, { bin: await ensureLitellm(version, OVERRIDES) });
  try {
    const res = await fetch(`${litellm.anthropicUrl}/v1/messages`, {
      method: 'POST',
      headers: {
        'x-litellm-api-key': litellm.masterKey,
        authorization: 'Bearer sk-ant-oat01-bisect',
        'anthropic-version': '2023-06-01',
        'content-type': 'application/json',
      },
      body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }),
    });
    await res.text();
    if (res.status !== 200 || fake.requests.length !== 1)
      throw new Error(`${version}: status ${res.status}, ${fake.requests.length} upstream requests`);
    return fake.requests[0]?.headers['x-litellm-api-key'] !== undefined;
  } finally {
    await litellm.stop();
    await fake.close();
  }
}

const candidates = await releases();
let lo = -1; // index of the last release known to forward (-1: GOOD itself)
let hi = candidates.length; // index of the first release known not to (length: BAD itself)
console.log(`${candidates.length} releases strictly between ${GOOD} and ${BAD}`);
while (hi - lo > 1) {
  const mid = (lo + hi) >> 1;
  const v = candidates[mid] as string;
  const f = await forwards(v);
  console.log(`${v}: ${f ? 'forwards' : 'does not forward'} x-litellm-api-key`);
  if (f) lo = mid;
  else hi = mid;
}
console.log(`last forwarding: ${candidates[lo] ?? GOOD}; first not forwarding: ${candidates[hi] ?? BAD}`);
