// Prints the results table of docs/RELIABILITY.md from the figures the reliability suite wrote
// (node_modules/.cache/auth-shim/reliability/*.json): run `npx vitest run test/reliability` first.
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';

const dir = new URL('../node_modules/.cache/auth-shim/reliability/', import.meta.url);
const rows = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => JSON.parse(readFileSync(new URL(f, dir), 'utf8')));
const n = (x) => x.toLocaleString('en-US');
const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const sum = (key) => rows.reduce((a, r) => a + r[key], 0);
const lines = [
  '| item | requests | faults injected | failures | leaks | peak RSS | bound | time |',
  '|---|---:|---:|---:|---:|---:|---|---:|',
  ...rows.map(
    (r) =>
      `| ${r.item} | ${n(r.requests)} | ${n(r.faults)} | ${r.failures} | ${r.leaks} ` +
      `| ${mib(r.peakRssBytes)} | ${r.bound} | ${r.seconds} s |`,
  ),
  `| **total** | ${n(sum('requests'))} | ${n(sum('faults'))} | ${sum('failures')} | ${sum('leaks')} ` +
    `| ${mib(Math.max(...rows.map((r) => r.peakRssBytes)))} | | |`,
];
console.log(lines.join('\n'));
console.log(
  `\nmachine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ` +
    `${os.platform()} ${os.release()}; process under test on Node ${rows[0]?.node ?? '?'}`,
);
