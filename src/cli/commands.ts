/**
 * The subcommands. Each module is imported only when its command runs, so `proxy` never loads
 * what `webhook` needs (@kubernetes/client-node costs tens of MB at start).
 */
export interface Command {
  readonly summary: string;
  /** Resolves to the exit code once the command is done (long-running commands resolve on exit). */
  run(args: string[]): Promise<number | undefined>;
}

export const COMMANDS: Record<string, Command> = {
  proxy: {
    summary: 'the sidecar: translate credentials on 127.0.0.1 and forward to LiteLLM',
    run: async (args) => (await import('./proxy.js')).runProxy(args),
  },
  webhook: {
    summary: 'the injector: a mutating admission webhook that adds the sidecar to annotated pods',
    run: async (args) => (await import('./webhook.js')).runWebhook(args),
  },
  inject: {
    summary: 'render the sidecar into Kubernetes YAML (GitOps, Helm --post-renderer)',
    run: async (args) => (await import('./inject.js')).runInject(args),
  },
  check: {
    summary: 'diagnose a configuration: credentials, upstream, LiteLLM version and key, header mapping',
    run: async (args) => (await import('./check.js')).runCheck(args),
  },
  demo: {
    summary: 'the embedded default: a fake Anthropic, the shim and one Claude-Code-shaped request',
    run: async (args) => (await import('./demo.js')).runDemo(args),
  },
};

export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(width)}  ${c.summary}`);
  return [
    'usage: auth-shim <command> [--flag value …]   (every flag is also an AUTH_SHIM_* variable)',
    '',
    'commands:',
    ...lines,
    '',
    'auth-shim <command> --help lists its options.',
  ].join('\n');
}
