import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { flagFor, optionsMarkdown } from '../../src/config/options.js';
import { loadProxyConfig } from '../../src/config/proxy-config.js';
import { PROXY_OPTIONS } from '../../src/config/proxy-options.js';
import { GENERATED_SECTIONS, renderSections } from '../../src/docs/sections.js';
import { proxyConfigProblems } from '../helpers/config-problems.js';

const base = { AUTH_SHIM_UPSTREAM_URL: 'http://litellm.ai.svc.cluster.local:4000/anthropic' };

const problems = proxyConfigProblems;

describe('proxy configuration', () => {
  it('defaults', () => {
    const c = loadProxyConfig(base);
    expect(c.upstream.href).toBe('http://litellm.ai.svc.cluster.local:4000/anthropic');
    expect(c.upstreamBasePath).toBe('/anthropic');
    expect(c.listen).toEqual({ host: '127.0.0.1', port: 8787 });
    expect(c.adminListen).toEqual({ host: '0.0.0.0', port: 9464 });
    expect(c.credentialSource).toBe('client-first');
    expect(c.allowedCredentials).toEqual(['oauth', 'api-key']);
    expect(c.litellmKeyHeader).toBe('x-litellm-api-key');
    expect(c.allowedPaths).toEqual(['/v1/messages', '/v1/messages/count_tokens', '/v1/models', '/v1/models/{id}']);
    expect(c.headersTimeoutMs).toBeGreaterThanOrEqual(600_000);
  });

  it('a trailing slash on the upstream path is dropped', () => {
    expect(loadProxyConfig({ AUTH_SHIM_UPSTREAM_URL: 'https://gw.example/anthropic/' }).upstreamBasePath).toBe(
      '/anthropic',
    );
    expect(loadProxyConfig({ AUTH_SHIM_UPSTREAM_URL: 'https://gw.example' }).upstreamBasePath).toBe('');
  });

  it('flags override the environment, in both --flag value and --flag=value forms', () => {
    const c = loadProxyConfig({ ...base, AUTH_SHIM_LISTEN: '127.0.0.1:1' }, [
      '--listen',
      '127.0.0.1:2',
      '--credential-source=shim-only',
      '--oauth-token-file',
      '/t',
    ]);
    expect(c.listen.port).toBe(2);
    expect(c.credentialSource).toBe('shim-only');
    expect(flagFor('AUTH_SHIM_UPSTREAM_CONNECT_TIMEOUT_MS')).toBe('--upstream-connect-timeout-ms');
  });

  it('reports every problem at once, each naming the variable and the rule', () => {
    const p = problems(
      {
        AUTH_SHIM_UPSTREAM_URL: 'litellm:4000',
        AUTH_SHIM_LISTEN: '0.0.0.0:8787',
        AUTH_SHIM_ADMIN_LISTEN: 'nope',
        AUTH_SHIM_CREDENTIAL_SOURCE: 'sometimes',
        AUTH_SHIM_ALLOWED_CREDENTIALS: 'oauth,password',
        AUTH_SHIM_UPSTREAM_HEADERS_TIMEOUT_MS: '10s',
        AUTH_SHIM_LOG_LEVEL: 'loud',
        AUTH_SHIM_ALLOWED_PATHS: '/v1/messages,/v1/../key',
        AUTH_SHIM_LITELLM_KEY_HEADER: 'authorization',
      },
      ['--bogus', 'x'],
    );
    expect(p).toEqual(
      expect.arrayContaining([
        'unknown flag --bogus',
        'AUTH_SHIM_UPSTREAM_URL must be an http(s) URL, got "litellm:4000"',
        'AUTH_SHIM_ADMIN_LISTEN must be host:port (e.g. 127.0.0.1:8787), got "nope"',
        'AUTH_SHIM_CREDENTIAL_SOURCE must be one of client-first, shim-only, client-only, got "sometimes"',
        'AUTH_SHIM_ALLOWED_CREDENTIALS must be a comma-separated list of oauth, api-key, got "oauth,password"',
        'AUTH_SHIM_UPSTREAM_HEADERS_TIMEOUT_MS must be a whole number of milliseconds greater than 0, got "10s"',
        'AUTH_SHIM_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"',
        'AUTH_SHIM_LITELLM_KEY_HEADER must not be authorization: the shim sets or strips that header itself',
      ]),
    );
    expect(p.some((x) => x.startsWith('AUTH_SHIM_LISTEN must be a loopback address'))).toBe(true);
    expect(p.some((x) => x.startsWith('AUTH_SHIM_ALLOWED_PATHS:'))).toBe(true);
    expect(p).toHaveLength(10);
  });

  it('the upstream URL is required', () => {
    expect(problems({})).toEqual([expect.stringMatching(/^AUTH_SHIM_UPSTREAM_URL is required/)]);
  });

  it('never echoes a URL that carries credentials', () => {
    const p = problems({ AUTH_SHIM_UPSTREAM_URL: 'http://user:hunter2@litellm:4000/anthropic' });
    expect(p).toEqual(['AUTH_SHIM_UPSTREAM_URL must not contain a user or password']);
  });

  it('cross-field rules', () => {
    expect(problems({ ...base, AUTH_SHIM_CREDENTIAL_SOURCE: 'shim-only' })).toEqual([
      'AUTH_SHIM_CREDENTIAL_SOURCE=shim-only needs AUTH_SHIM_OAUTH_TOKEN_FILE or AUTH_SHIM_API_KEY_FILE ' +
        '(or their AUTH_SHIM_SECRET_*_KEY)',
    ]);
    expect(problems({ ...base, AUTH_SHIM_OAUTH_TOKEN_FILE: '/t', AUTH_SHIM_ALLOWED_CREDENTIALS: 'api-key' })).toEqual([
      'AUTH_SHIM_OAUTH_TOKEN_FILE is set but AUTH_SHIM_ALLOWED_CREDENTIALS does not include oauth',
    ]);
    expect(problems({ ...base, AUTH_SHIM_API_KEY_FILE: '/k', AUTH_SHIM_ALLOWED_CREDENTIALS: 'oauth' })).toEqual([
      'AUTH_SHIM_API_KEY_FILE is set but AUTH_SHIM_ALLOWED_CREDENTIALS does not include api-key',
    ]);
    expect(problems({ ...base, AUTH_SHIM_CREDENTIAL_SOURCE: 'client-only', AUTH_SHIM_API_KEY_FILE: '/k' })).toEqual([
      'AUTH_SHIM_CREDENTIAL_SOURCE=client-only never uses AUTH_SHIM_API_KEY_FILE: unset it or choose client-first',
    ]);
    expect(problems({ ...base, AUTH_SHIM_LISTEN: '127.0.0.1:9464' })).toEqual([
      'AUTH_SHIM_LISTEN and AUTH_SHIM_ADMIN_LISTEN must use different ports, both are 9464',
    ]);
    expect(problems({ ...base, AUTH_SHIM_OAUTH_TOKEN_EXPIRES_AT: '2027-01-01T00:00:00Z' })).toEqual([
      'AUTH_SHIM_OAUTH_TOKEN_EXPIRES_AT is set but AUTH_SHIM_OAUTH_TOKEN_FILE is not',
    ]);
    expect(
      problems({ ...base, AUTH_SHIM_OAUTH_TOKEN_FILE: '/t', AUTH_SHIM_OAUTH_TOKEN_EXPIRES_AT: 'next year' })[0],
    ).toContain('RFC 3339');
  });

  it('loopback listeners are accepted in every spelling', () => {
    for (const l of ['127.0.0.1:8787', '127.0.0.2:1', 'localhost:8787', '[::1]:8787'])
      expect(problems({ ...base, AUTH_SHIM_LISTEN: l }), l).toEqual([]);
  });

  it('the README configuration table is the one generated from the option table', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(optionsMarkdown(PROXY_OPTIONS));
  });

  it('every generated docs section is current (run npm run docs after changing options)', () => {
    for (const file of new Set(GENERATED_SECTIONS.map((s) => s.file))) {
      const text = readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');
      expect(renderSections(file, text), file).toBe(text);
    }
  });

  it('Kubernetes API mode options', () => {
    const c = loadProxyConfig({
      ...base,
      AUTH_SHIM_SECRET: 'agents/claude-creds',
      AUTH_SHIM_SECRET_OAUTH_TOKEN_KEY: 'token',
      AUTH_SHIM_SECRET_LITELLM_KEY_KEY: 'litellm',
    });
    expect(c.secret).toEqual({ namespace: 'agents', name: 'claude-creds' });
    expect(c.secretKeys).toEqual({ oauth: 'token', litellmKey: 'litellm' });
    expect(problems({ ...base, AUTH_SHIM_SECRET: 'agents/x' })).toEqual([
      expect.stringContaining('AUTH_SHIM_SECRET needs at least one of'),
    ]);
    expect(problems({ ...base, AUTH_SHIM_SECRET: 'Agents/x_y', AUTH_SHIM_SECRET_OAUTH_TOKEN_KEY: 'bad key' })).toEqual([
      'AUTH_SHIM_SECRET must be <namespace>/<name> of a Secret, got "Agents/x_y"',
      'AUTH_SHIM_SECRET_OAUTH_TOKEN_KEY must be a Secret key ([-._a-zA-Z0-9]+), got "bad key"',
    ]);
    expect(
      problems({
        ...base,
        AUTH_SHIM_SECRET: 'a/b',
        AUTH_SHIM_SECRET_OAUTH_TOKEN_KEY: 't',
        AUTH_SHIM_OAUTH_TOKEN_FILE: '/t',
      })[0],
    ).toContain('exclusive');
    expect(problems({ ...base, AUTH_SHIM_SECRET_API_KEY_KEY: 'k' })).toEqual([
      'AUTH_SHIM_SECRET_*_KEY options are set but AUTH_SHIM_SECRET is not',
    ]);
    expect(
      problems({
        ...base,
        AUTH_SHIM_CREDENTIAL_SOURCE: 'shim-only',
        AUTH_SHIM_SECRET: 'a/b',
        AUTH_SHIM_SECRET_OAUTH_TOKEN_KEY: 't',
      }),
    ).toEqual([]);
  });
});
