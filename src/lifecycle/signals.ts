import type { Logger } from '../telemetry/logger.js';

/**
 * Node as PID 1 ignores SIGTERM unless it handles it. The first SIGTERM/SIGINT/SIGHUP drains
 * (readiness false, no new connections, in-flight requests finish); a second one exits at once.
 * SIGHUP drains rather than being ignored (issue 15, item 8): Node's default for it is to die at
 * once, cutting every stream; there is no configuration to reload (credentials hot-reload by
 * themselves), and whoever sends it — a closing terminal, a supervisor — means "stop".
 * Resolves to the exit code once the drain is over.
 */
export function onShutdownSignals(log: Logger, drain: () => Promise<{ drained: boolean }>): Promise<number> {
  return new Promise((resolve) => {
    let draining = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (draining) {
        log.warn({ event: 'forced_exit', signal }, 'second signal: exiting without waiting for in-flight requests');
        log.flush();
        process.exit(1);
      }
      draining = true;
      log.info({ event: 'draining', signal }, 'draining in-flight requests');
      drain().then(
        () => {
          log.flush();
          resolve(0);
        },
        (err: unknown) => {
          log.error({ event: 'drain_failed', err: String(err) }, 'drain failed');
          log.flush();
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    process.on('SIGHUP', onSignal);
  });
}
