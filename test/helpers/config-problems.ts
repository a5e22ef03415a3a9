import { ConfigError } from '../../src/config/options.js';
import { loadProxyConfig } from '../../src/config/proxy-config.js';

/** The problems `loadProxyConfig` lists for this environment and argv (none when it loads). */
export function proxyConfigProblems(env: Record<string, string>, argv: string[] = []): readonly string[] {
  try {
    loadProxyConfig(env, argv);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}
