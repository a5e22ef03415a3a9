// The agent container of the test Deployment: runs the real Claude Code CLI once in print mode
// through the injected sidecar, prints its result as one JSON line, then idles like a long-lived
// agent so the pod stays up for port-forward, exec and rotation. Exits on SIGTERM.
import { spawn } from 'node:child_process';

process.on('SIGTERM', () => process.exit(0));
const child = spawn('claude', ['-p', 'Say hello', '--output-format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
let out = '';
let err = '';
child.stdout.on('data', (c) => (out += c));
child.stderr.on('data', (c) => (err += c));
child.on('error', (e) => console.log(JSON.stringify({ event: 'claude-exited', code: null, out, err: String(e) })));
child.on('exit', (code) => console.log(JSON.stringify({ event: 'claude-exited', code, out, err: err.slice(-2000) })));
setInterval(() => {}, 1 << 30);
