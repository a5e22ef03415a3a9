import { existsSync } from 'node:fs';
import { registerHooks } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * Lets Node 24 run the bench's TypeScript as it is (type stripping, no build step): imports are
 * written `./x.js` as `tsc` (NodeNext) wants them, and this maps each to the `.ts` file beside it.
 * `test/e2e/_peers.ts` is imported the same way, from where it lives, so `.peers/` is found.
 */
registerHooks({
  resolve(specifier, context, next) {
    const parent = context.parentURL;
    if (parent?.endsWith('.ts') && /^\.\.?\//.test(specifier) && specifier.endsWith('.js')) {
      const ts = new URL(`${specifier.slice(0, -3)}.ts`, parent);
      if (existsSync(fileURLToPath(ts))) return next(ts.href, context);
    }
    return next(specifier, context);
  },
});
