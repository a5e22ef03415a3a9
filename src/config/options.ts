/**
 * Configuration shape: every option is an environment variable and an equivalent flag
 * (`AUTH_SHIM_UPSTREAM_URL` ⇔ `--upstream-url`), a default, a one-line meaning, and a parser that
 * names the variable, the unit and the rule when a value is wrong. Parsing collects every problem
 * so a bad config is reported at once, before anything listens.
 */

export type Parsed<T> = { readonly value: T } | { readonly problem: string };

export interface OptionSpec<T> {
  readonly env: string;
  /** Shown in the README/`--help`; `undefined` means "no default" (optional or required). */
  readonly default?: string;
  readonly required?: boolean;
  readonly description: string;
  readonly parse: (raw: string, env: string) => Parsed<T>;
}

export type OptionTable = Record<string, OptionSpec<unknown>>;

/** An option's parsed type; optional (`| undefined`) unless it is required or has a default. */
type ValueOf<S> = S extends { parse: (raw: string, env: string) => Parsed<infer V> }
  ? S extends { required: true } | { default: string }
    ? V
    : V | undefined
  : never;

export type ValuesOf<T extends OptionTable> = { [K in keyof T]: ValueOf<T[K]> };

/** Keeps an option's literal shape (required/default) so `ValuesOf` can type it precisely. */
export function option<const S extends OptionSpec<V>, V>(s: S & OptionSpec<V>): S {
  return s;
}

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** `AUTH_SHIM_UPSTREAM_URL` → `--upstream-url`. */
export function flagFor(env: string): string {
  return `--${env
    .replace(/^AUTH_SHIM_/, '')
    .toLowerCase()
    .replaceAll('_', '-')}`;
}

export interface ParseResult<T extends OptionTable> {
  readonly values: ValuesOf<T>;
  readonly problems: string[];
  /** Non-option arguments, in order (file names for `inject`, …). */
  readonly positionals: string[];
}

/**
 * Reads the table from the environment and argv (flags win). Unknown flags are problems; the
 * caller adds cross-field checks to `problems` before deciding.
 */
export function parseOptions<T extends OptionTable>(
  table: T,
  env: NodeJS.ProcessEnv,
  argv: readonly string[],
  booleanFlags: readonly string[] = [],
): ParseResult<T> {
  const problems: string[] = [];
  const positionals: string[] = [];
  const byFlag = new Map<string, string>();
  for (const [key, spec] of Object.entries(table)) byFlag.set(flagFor(spec.env), key);

  const fromFlags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--') || arg === '--') {
      positionals.push(arg);
      continue;
    }
    if (booleanFlags.includes(arg)) continue;
    const eq = arg.indexOf('=');
    const flag = eq < 0 ? arg : arg.slice(0, eq);
    const key = byFlag.get(flag);
    if (key === undefined) {
      problems.push(`unknown flag ${flag}`);
      continue;
    }
    const value: string | undefined = eq < 0 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined) {
      problems.push(`${flag} needs a value`);
      continue;
    }
    fromFlags.set(key, value);
  }

  const values: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(table)) {
    const raw = fromFlags.get(key) ?? nonEmpty(env[spec.env]) ?? spec.default;
    if (raw === undefined) {
      if (spec.required) problems.push(`${spec.env} is required (${spec.description})`);
      values[key] = undefined;
      continue;
    }
    const parsed = spec.parse(raw, spec.env);
    if ('problem' in parsed) problems.push(parsed.problem);
    else values[key] = parsed.value;
  }
  return { values: values as ValuesOf<T>, problems, positionals };
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

/** A Markdown table of the options: the README's configuration table is generated from this. */
export function optionsMarkdown(table: OptionTable): string {
  const rows = Object.values(table).map((s) => {
    const def = s.required ? '*(required)*' : s.default === undefined ? '—' : `\`${s.default}\``;
    return `| \`${s.env}\` / \`${flagFor(s.env)}\` | ${def} | ${s.description} |`;
  });
  return ['| variable / flag | default | meaning |', '|---|---|---|', ...rows].join('\n');
}

/** `--help` text for a subcommand. */
export function optionsHelp(command: string, summary: string, table: OptionTable): string {
  const lines = [`auth-shim ${command} — ${summary}`, '', 'Options (environment variable, or the flag):'];
  for (const s of Object.values(table)) {
    const def = s.required ? ' (required)' : s.default === undefined ? '' : ` (default ${s.default})`;
    lines.push(`  ${flagFor(s.env).padEnd(34)} ${s.env}${def}`, `      ${s.description}`);
  }
  return lines.join('\n');
}
