import { runChecks, type CheckReport } from '../check/run-checks.js';
import { ConfigError, optionsHelp } from '../config/options.js';
import { loadProxyConfig } from '../config/proxy-config.js';
import { PROXY_OPTIONS } from '../config/proxy-options.js';
import { EXIT_CONFIG, wantsHelp } from './load-config.js';

const MARK = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' } as const;
const ABOUT =
  'diagnose a configuration: credentials, upstream, LiteLLM version and key, header mapping (--json for machines)';

/**
 * `auth-shim check`: reads the same configuration as `proxy` (environment and flags) and reports
 * what the sidecar would do with it. Exit 1 on any failed check (2 for invalid configuration);
 * `--json` for machines.
 */
export async function runCheck(args: string[]): Promise<number> {
  const json = args.includes('--json');
  if (wantsHelp(args)) {
    process.stdout.write(`${optionsHelp('check', ABOUT, PROXY_OPTIONS)}\n`);
    return 0;
  }
  let config;
  try {
    config = loadProxyConfig(
      process.env,
      args.filter((a) => a !== '--json'),
    );
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const checks = err.problems.map((p) => ({ name: 'configuration', status: 'fail', detail: p }));
    if (json) process.stdout.write(`${JSON.stringify({ ok: false, checks }, null, 2)}\n`);
    else process.stderr.write(`auth-shim check: ${err.message}\n`);
    return EXIT_CONFIG;
  }
  const report = await runChecks(config);
  process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : render(report));
  return report.ok ? 0 : 1;
}

export function render(report: CheckReport): string {
  const width = Math.max(...report.checks.map((c) => c.name.length));
  const lines = [
    'auth-shim check',
    ...report.checks.map((c) => `  ${MARK[c.status]}  ${c.name.padEnd(width)}  ${c.detail}`),
  ];
  if (report.mapping !== undefined) {
    lines.push(
      '',
      `Header mapping for a sample request (${report.mapping.sample}):`,
      '  the client sends:',
      ...report.mapping.before.map((h) => `    ${h}`),
      '  the upstream receives:',
      ...report.mapping.after.map((h) => `    ${h}`),
    );
  }
  lines.push('', report.ok ? 'All checks passed.' : 'Some checks FAILED (see above).');
  return `${lines.join('\n')}\n`;
}
