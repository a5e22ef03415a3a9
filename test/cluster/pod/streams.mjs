// Bench: argv[1] streams through the sidecar held open at once (the fake holds them); prints
// "open" once every one has its first bytes, ends them when /tmp/stop-streams exists.
import { existsSync } from 'node:fs';

const base = process.env.ANTHROPIC_BASE_URL;
const n = Number(process.argv[1] ?? 100);
const body = JSON.stringify({
  model: 'claude-sonnet-4-5',
  max_tokens: 8,
  stream: true,
  messages: [{ role: 'user', content: 'hold-stream' }],
});
const controllers = [];
let opened = 0;
await Promise.all(
  Array.from({ length: n }, async () => {
    const ac = new AbortController();
    controllers.push(ac);
    const res = await fetch(`${base}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': 'placeholder' },
      body,
      signal: ac.signal,
    });
    const reader = res.body.getReader();
    await reader.read();
    opened += 1;
    reader.read().catch(() => undefined);
  }),
);
console.log(JSON.stringify({ event: 'open', streams: opened }));
while (!existsSync('/tmp/stop-streams')) await new Promise((r) => setTimeout(r, 200));
for (const ac of controllers) ac.abort();
console.log(JSON.stringify({ event: 'closed' }));
process.exit(0);
