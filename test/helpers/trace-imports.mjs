// Preloaded with `node --import` in tests: reports on stderr when @kubernetes/client-node is
// resolved, to prove which modes load it (it costs tens of MB at start).
import { registerHooks } from 'node:module';

registerHooks({
  resolve(specifier, context, next) {
    const result = next(specifier, context);
    if (result.url.includes('/@kubernetes/client-node/')) process.stderr.write(`TRACE-IMPORT ${specifier}\n`);
    return result;
  },
});
