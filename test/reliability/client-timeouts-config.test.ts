import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/options.js';
import { loadProxyConfig } from '../../src/config/proxy-config.js';

/** The slowloris bounds of item 2 are configurable; the defaults are node:http's previous settings in app.ts. */
describe('AUTH_SHIM_CLIENT_HEADERS_TIMEOUT_MS / AUTH_SHIM_CLIENT_REQUEST_TIMEOUT_MS', () => {
  const base = { AUTH_SHIM_UPSTREAM_URL: 'http://127.0.0.1:4000/anthropic' };

  it('default to 60 s and 300 s', () => {
    const c = loadProxyConfig(base);
    expect([c.clientHeadersTimeoutMs, c.clientRequestTimeoutMs]).toEqual([60_000, 300_000]);
  });

  it('a headers timeout longer than the request timeout is a configuration error (node:http would throw)', () => {
    expect(() =>
      loadProxyConfig({
        ...base,
        AUTH_SHIM_CLIENT_HEADERS_TIMEOUT_MS: '5000',
        AUTH_SHIM_CLIENT_REQUEST_TIMEOUT_MS: '1000',
      }),
    ).toThrow(ConfigError);
    expect(() =>
      loadProxyConfig({
        ...base,
        AUTH_SHIM_CLIENT_HEADERS_TIMEOUT_MS: '5000',
        AUTH_SHIM_CLIENT_REQUEST_TIMEOUT_MS: '1000',
      }),
    ).toThrow(
      'AUTH_SHIM_CLIENT_HEADERS_TIMEOUT_MS (5000 ms) must not exceed AUTH_SHIM_CLIENT_REQUEST_TIMEOUT_MS (1000 ms)',
    );
    expect(() => loadProxyConfig({ ...base, AUTH_SHIM_CLIENT_REQUEST_TIMEOUT_MS: '0' })).toThrow(
      'AUTH_SHIM_CLIENT_REQUEST_TIMEOUT_MS must be a whole number of milliseconds',
    );
  });
});
