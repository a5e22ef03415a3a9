// Bench load from the agent container: argv[1] requests through the sidecar, argv[2] at a time,
// then one JSON summary line.
const base = process.env.ANTHROPIC_BASE_URL;
const total = Number(process.argv[1] ?? 10000);
const concurrency = Number(process.argv[2] ?? 8);
const body = JSON.stringify({
  model: 'claude-sonnet-4-5',
  max_tokens: 8,
  messages: [{ role: 'user', content: 'ping' }],
});
let next = 0;
let ok = 0;
let failed = 0;
const t0 = Date.now();
async function worker() {
  while (next < total) {
    next += 1;
    try {
      const res = await fetch(`${base}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': 'placeholder' },
        body,
      });
      await res.arrayBuffer();
      if (res.status === 200) ok += 1;
      else failed += 1;
    } catch {
      failed += 1;
    }
  }
}
await Promise.all(Array.from({ length: concurrency }, worker));
console.log(JSON.stringify({ event: 'summary', ok, failed, ms: Date.now() - t0 }));
