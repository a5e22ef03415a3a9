// An agent with one open stream: it starts a streamed request through the sidecar (its first
// message is argv[1], so the fake can tell it apart) and, like an agent finishing its turn, keeps
// reading after SIGTERM; it exits when the stream ends. A classic sidecar may not listen yet when
// this starts: connection refusals are retried for a minute.
process.on('SIGTERM', () => console.log(JSON.stringify({ event: 'sigterm' })));
const base = process.env.ANTHROPIC_BASE_URL;
const body = JSON.stringify({
  model: 'claude-sonnet-4-5',
  max_tokens: 64,
  stream: true,
  messages: [{ role: 'user', content: process.argv[1] ?? 'ping' }],
});
const until = Date.now() + 60_000;
let res;
for (;;) {
  try {
    res = await fetch(`${base}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': 'placeholder' },
      body,
    });
    break;
  } catch (err) {
    if (Date.now() > until) {
      console.log(JSON.stringify({ event: 'done', complete: false, error: String(err) }));
      process.exit(1);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
console.log(JSON.stringify({ event: 'status', status: res.status }));
let text = '';
try {
  const dec = new TextDecoder();
  for await (const chunk of res.body) {
    text += dec.decode(chunk, { stream: true });
    console.log(JSON.stringify({ event: 'chunk', bytes: chunk.length }));
  }
  console.log(
    JSON.stringify({
      event: 'done',
      complete: text.includes('event: message_stop'),
      events: (text.match(/^event: /gm) ?? []).length,
    }),
  );
} catch (err) {
  console.log(JSON.stringify({ event: 'done', complete: false, error: String(err) }));
}
