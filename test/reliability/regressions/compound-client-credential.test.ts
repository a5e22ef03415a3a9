import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { API_KEY, LITELLM_KEY, OAUTH, OAUTH_2, startShim, type Shim } from '../../helpers/shim.js';

/**
 * Found by the hostile-input fuzz (item 3): a client credential header holding more than one token
 * — `x-api-key: sk-ant-oat…,sk-ant-api…`, `Authorization: Bearer sk-ant-oat…,sk-ant-api…`, or a
 * second secret after a space or tab — was classified by its prefix alone and forwarded whole as
 * `Authorization: Bearer <everything>`: the API key (or the LiteLLM key) reached the upstream inside
 * the OAuth credential. Now such a value is not a credential at all: dropped, the shim's own
 * credential is used (client-first), or the request is refused with 401 (client-only).
 */
let shim: Shim | undefined;
afterEach(async () => {
  await shim?.close();
  shim = undefined;
});

const COMPOUND: Array<[string, string]> = [
  ['x-api-key', `${OAUTH},${API_KEY}`],
  ['x-api-key', `${OAUTH} ${API_KEY}`],
  ['x-api-key', `${OAUTH}\t${LITELLM_KEY}`],
  ['x-api-key', `${API_KEY};${OAUTH}`],
  ['authorization', `Bearer ${OAUTH},${API_KEY}`],
  ['authorization', `Bearer ${API_KEY},${LITELLM_KEY}`],
];

async function send(s: Shim, header: [string, string]) {
  const res = await request(`${s.proxy.url}/v1/messages`, {
    method: 'POST',
    headers: header,
    body: '{}',
    dispatcher: s.client,
  });
  return { status: res.statusCode, text: await res.body.text() };
}

describe('regression: compound client credential', () => {
  it("client-first: never forwarded; the shim's own token goes instead", async () => {
    shim = await startShim({ files: { oauth: OAUTH_2 }, env: { AUTH_SHIM_OAUTH_TOKEN_FILE: '{dir}/oauth' } });
    for (const h of COMPOUND) {
      expect((await send(shim, h)).status, h[1].slice(0, 30)).toBe(200);
      const up = shim.fake.requests.at(-1);
      expect(up?.headers['authorization']).toEqual([`Bearer ${OAUTH_2}`]);
      expect(up?.headers['x-api-key']).toBeUndefined();
      const all = JSON.stringify(up?.rawHeaders);
      for (const s of [OAUTH, API_KEY, LITELLM_KEY]) expect(all).not.toContain(s);
    }
  });

  it('client-only: 401 authentication_error, nothing forwarded, no secret echoed', async () => {
    shim = await startShim({ env: { AUTH_SHIM_CREDENTIAL_SOURCE: 'client-only' } });
    for (const h of COMPOUND) {
      const r = await send(shim, h);
      expect(r.status).toBe(401);
      expect(JSON.parse(r.text)).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
      for (const s of [OAUTH, API_KEY, LITELLM_KEY]) expect(r.text).not.toContain(s);
    }
    expect(shim.fake.requests).toHaveLength(0);
  });

  it('a single well-formed token is still translated as before', async () => {
    shim = await startShim();
    expect((await send(shim, ['x-api-key', OAUTH])).status).toBe(200);
    expect(shim.fake.lastHeader('authorization')).toBe(`Bearer ${OAUTH}`);
    expect((await send(shim, ['authorization', `Bearer ${API_KEY}`])).status).toBe(200);
    expect(shim.fake.lastHeader('x-api-key')).toBe(API_KEY);
  });
});
