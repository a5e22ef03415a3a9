import type { CredentialFeed } from './store.js';

/**
 * Several feeds as one, started in order: a feed that needs another's value (federation needs the LiteLLM
 * key from the files or the Secret) comes after it.
 */
export function feedChain(feeds: ReadonlyArray<CredentialFeed | undefined>): CredentialFeed | undefined {
  const present = feeds.filter((f): f is CredentialFeed => f !== undefined);
  if (present.length <= 1) return present[0];
  return {
    async start(store) {
      for (const feed of present) await feed.start(store);
    },
    async refresh() {
      for (const feed of present) await feed.refresh();
    },
    stop() {
      for (const feed of present) feed.stop();
    },
  };
}
