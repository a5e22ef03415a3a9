// A request loop in the agent container, through the sidecar on 127.0.0.1 (ANTHROPIC_BASE_URL):
// one request after another until /tmp/stop-loop exists (or argv[1] seconds pass), then one JSON
// summary line. Every failure is printed as it happens; a request that hangs for 60 s counts as one
// (a hang must fail the test with a reason, not leave the loop without its summary).
import { existsSync } from 'node:fs';

const base = process.env.ANTHROPIC_BASE_URL;
const until = Date.now() + Number(process.argv[1] ?? 600) * 1000;
const body = JSON.stringify({
  model: 'claude-sonnet-4-5',
  max_tokens: 8,
  messages: [{ role: 'user', content: 'ping' }],
});
let ok = 0;
let failed = 0;
const statuses = {};
while (!existsSync('/tmp/stop-loop') && Date.now() < until) {
  try {
    const res = await fetch(`${base}/v1/messages`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'anthropic-version': '2023-06-01',
        'x-api-key': process.env.ANTHROPIC_API_KEY ?? 'placeholder',
      },
      body,
      signal: AbortSignal.timeout(60_000),
    });
    const text = await res.text();
    statuses[res.status] = (statuses[res.status] ?? 0) + 1;
    if (res.status === 200) ok += 1;
    else {
      failed += 1;
      console.log(JSON.stringify({ event: 'failed', status: res.status, body: text.slice(0, 300) }));
    }
  } catch (err) {
    failed += 1;
    console.log(JSON.stringify({ event: 'failed', error: String(err) }));
  }
  if (ok === 1 && failed === 0) console.log(JSON.stringify({ event: 'first-ok' }));
  await new Promise((r) => setTimeout(r, 20));
}
console.log(JSON.stringify({ event: 'summary', ok, failed, statuses }));
