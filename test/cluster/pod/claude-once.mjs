// A Job's agent: the real Claude Code CLI once, through the injected sidecar; the exit code is the
// CLI's, so the Job completes only if the answer arrived.
import { spawnSync } from 'node:child_process';

const r = spawnSync('claude', ['-p', 'Say hello', '--output-format', 'json'], { encoding: 'utf8' });
console.log(
  JSON.stringify({ event: 'claude-exited', code: r.status, out: r.stdout, err: (r.stderr ?? '').slice(-2000) }),
);
process.exit(r.status ?? 1);
