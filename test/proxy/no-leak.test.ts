import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import { ConfigError } from '../../src/config/options.js';
import { loadProxyConfig } from '../../src/config/proxy-config.js';
import { API_KEY, eventually, LITELLM_KEY, OAUTH, OAUTH_2, SECRETS, startShim } from '../helpers/shim.js';

/**
 * Secrets never leave their lane: known tokens go through every path — success, each error the
 * shim makes, upstream failures, a credential reload, bad configuration — and must appear in no
 * log line, response body, response header or metric.
 */
describe('no secret in logs, error bodies or metrics', () => {
  it('through every request path', async () => {
    const shim = await startShim({
      logLevel: 'trace',
      files: { oauth: `${OAUTH}\n`, litellm: LITELLM_KEY },
      env: {
        AUTH_SHIM_OAUTH_TOKEN_FILE: '{dir}/oauth',
        AUTH_SHIM_LITELLM_KEY_FILE: '{dir}/litellm',
        AUTH_SHIM_MAX_BODY_BYTES: '100',
        AUTH_SHIM_UPSTREAM_HEADERS_TIMEOUT_MS: '100',
        AUTH_SHIM_ALLOWED_CREDENTIALS: 'oauth',
      },
    });
    const seen: string[] = [];
    const send = async (path: string, headers: string[], body: string | null = '{}', method = 'POST') => {
      const res = await request(`${shim.proxy.url}${path}`, {
        method: method as 'POST',
        headers,
        body,
        dispatcher: shim.client,
      });
      seen.push(JSON.stringify(res.headers), await res.body.text().catch((e: unknown) => String(e)));
      return res.statusCode;
    };
    // The upstream's own words are passed on as they are; here it says nothing about the request.
    shim.fake.respond = (_req, res) =>
      void res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    const creds = [
      ['x-api-key', OAUTH],
      ['authorization', `Bearer ${OAUTH}`],
      ['x-api-key', API_KEY],
      ['authorization', `Bearer ${API_KEY}`],
      ['x-litellm-api-key', LITELLM_KEY],
      ['x-pass-authorization', `Bearer ${OAUTH}`],
    ];
    const statuses = new Set<number>();
    for (const c of creds) {
      statuses.add(await send('/v1/messages', c)); // 200 or 403 (api keys not allowed)
      statuses.add(await send(`/v1/models/${OAUTH}`, c, null, 'GET')); // 404: a token in the path
      statuses.add(await send('/key/generate', c)); // 404
      statuses.add(await send('/v1/messages', c, 'x'.repeat(500))); // 413
      statuses.add(await send('/v1/messages', c, null, 'DELETE')); // 405
      statuses.add(await send('/v1/messages', [...c, ...c])); // 400 when read, else forwarded
    }
    // Upstream failures: an error body that echoes the credential it received must still not be
    // produced by the shim (what the upstream itself says is passed on as is, by design).
    shim.fake.respond = () => undefined;
    statuses.add(await send('/v1/messages', ['x-api-key', OAUTH])); // 504
    shim.fake.respond = (_req, res) => void res.socket?.destroy();
    statuses.add(await send('/v1/messages', ['x-api-key', OAUTH])); // 502
    // A rotation, then a rejected (wrong-slot) value.
    await writeFile(join(shim.dir, 'oauth.new'), OAUTH_2);
    await rename(join(shim.dir, 'oauth.new'), join(shim.dir, 'oauth'));
    await shim.proxy.credentials.reloadAll();
    await writeFile(join(shim.dir, 'oauth'), API_KEY);
    await shim.proxy.credentials.reloadAll();
    await eventually(() => shim.logs.some((l) => l.includes('credential_rejected')));

    expect([...statuses].sort()).toEqual([200, 400, 403, 404, 405, 413, 502, 504]);
    const metrics = await (await request(`${shim.proxy.adminUrl}/metrics`)).body.text();
    const ready = await (await request(`${shim.proxy.adminUrl}/readyz`)).body.text();
    const everything = [...shim.logs, ...seen, metrics, ready].join('\n');
    expect(shim.logs.length).toBeGreaterThan(40);
    const leaks = [...shim.logs, ...seen, metrics, ready].filter((t) => SECRETS.some((s) => t.includes(s)));
    expect(leaks).toEqual([]);
    // and no fragment long enough to matter
    for (const s of SECRETS) expect(everything).not.toContain(s.slice(14, 40));
    await shim.close();
  });

  it('in configuration errors, even when a secret is put where a path belongs', () => {
    let message = '';
    try {
      loadProxyConfig({
        AUTH_SHIM_UPSTREAM_URL: `http://user:${OAUTH}@litellm:4000`,
        AUTH_SHIM_OAUTH_TOKEN_FILE: OAUTH,
        AUTH_SHIM_LITELLM_KEY_FILE: LITELLM_KEY,
        AUTH_SHIM_LISTEN: API_KEY,
        AUTH_SHIM_LITELLM_KEY_HEADER: OAUTH,
        AUTH_SHIM_LOG_LEVEL: API_KEY,
      });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      message = (err as Error).message;
    }
    expect(message).toContain(
      'AUTH_SHIM_OAUTH_TOKEN_FILE must be the path of a file holding the secret, not the secret itself',
    );
    expect(message).toContain('AUTH_SHIM_LISTEN must be host:port');
    for (const s of SECRETS) expect(message).not.toContain(s);
  });
});
