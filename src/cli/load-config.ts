import { ConfigError } from '../config/options.js';

/** Exit code for an invalid configuration (before anything listens). */
export const EXIT_CONFIG = 2;

export function wantsHelp(args: readonly string[]): boolean {
  return args.includes('--help') || args.includes('-h');
}

/**
 * Runs a configuration loader; on a ConfigError writes every problem as one
 * `auth-shim <command>: invalid configuration: …` message and returns undefined (exit 2).
 */
export function loadOrReport<T>(
  command: string,
  load: () => T,
  stderr: NodeJS.WritableStream = process.stderr,
): T | undefined {
  try {
    return load();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    stderr.write(`auth-shim ${command}: ${err.message}\n`);
    return undefined;
  }
}
