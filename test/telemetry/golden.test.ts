import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProxyMetrics } from '../../src/telemetry/metrics.js';
import { Registry } from 'prom-client';
import { logLines, SECRETS, type Shim } from '../helpers/shim.js';
import { expectGolden, normaliseExposition } from './exposition.js';
import {
  CLIENT_ONLY_STATUSES,
  runClientOnlyScript,
  runShimCredentialScript,
  SHIM_SCRIPT_STATUSES,
} from './scripted-traffic.js';

const ROTATED_LITELLM = 'sk-litellm-rotated-TESTKEY-fedcba9876543210';
const ALL_SECRETS = [...SECRETS, ROTATED_LITELLM];

async function scrape(shim: Shim): Promise<string> {
  const res = await request(`${shim.proxy.adminUrl}/metrics`, { dispatcher: shim.client });
  expect(res.statusCode).toBe(200);
  return res.body.text();
}

/** Metric families with at least one sample in the exposition. */
function familiesWithSamples(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    names.add(line.replace(/[{ ].*$/, '').replace(/_(bucket|sum|count)$/, ''));
  }
  return names;
}

function secretFragments(secret: string): string[] {
  // The whole secret and its distinctive middle: a truncated or prefixed copy still leaks.
  return [secret, secret.slice(14, 40)];
}

describe.each([
  {
    name: 'shim credentials (client-first)',
    golden: 'shim-credentials.prom',
    run: runShimCredentialScript,
    statuses: SHIM_SCRIPT_STATUSES,
  },
  {
    name: 'client credentials (client-only)',
    golden: 'client-only.prom',
    run: runClientOnlyScript,
    statuses: CLIENT_ONLY_STATUSES,
  },
])('scripted traffic, $name', ({ golden, run, statuses }) => {
  let shim: Shim;
  let text: string;
  beforeAll(async () => {
    const result = await run();
    shim = result.shim;
    expect(result.statuses).toEqual(statuses);
    text = await scrape(shim);
  });
  afterAll(() => shim?.close());

  it('matches the golden exposition', async () => {
    await expectGolden(golden, normaliseExposition(text));
  });

  it('puts no secret in /metrics', () => {
    for (const s of ALL_SECRETS) for (const f of secretFragments(s)) expect(text).not.toContain(f);
  });

  it('puts no secret in any log line, and logs header names only at debug', () => {
    const all = shim.logs.join('\n');
    for (const s of ALL_SECRETS) for (const f of secretFragments(s)) expect(all).not.toContain(f);
    const lines = logLines(shim);
    const requests = lines.filter((l) => l.event === 'request');
    expect(requests).toHaveLength(statuses.length);
    const translate = lines.filter((l) => l.event === 'translate');
    expect(translate.length).toBeGreaterThan(0);
    for (const t of translate) {
      expect(Array.isArray(t.before) && Array.isArray(t.after)).toBe(true);
      for (const n of [...(t.before as string[]), ...(t.after as string[])]) expect(n).toMatch(/^[a-z0-9-]+$/);
    }
  });
});

describe('metric coverage', () => {
  it('every metric the proxy registers is produced by real requests in the scripted traffic', async () => {
    const registered = new Registry();
    new ProxyMetrics(registered, { defaultMetrics: false });
    const names = registered.getMetricsAsArray().map((m) => (m as unknown as { name: string }).name);

    const produced = new Set<string>();
    for (const run of [runShimCredentialScript, runClientOnlyScript]) {
      const { shim } = await run();
      try {
        for (const n of familiesWithSamples(await scrape(shim))) produced.add(n);
      } finally {
        await shim.close();
      }
    }
    const missing = names.filter((n) => !produced.has(n.replace(/_total$/, '')) && !produced.has(n));
    expect(missing).toEqual([]);
  });
});
