import { request } from 'undici';

/** Where `auth-shim check` read LiteLLM's version from (reported, so a user can repeat it by hand). */
export type VersionSource = 'GET /health/readiness' | 'GET /public/model_hub/info' | 'GET /openapi.json';

export interface DetectedVersion {
  readonly version: string;
  readonly source: VersionSource;
}

const CHEAP_TIMEOUT_MS = 5_000;
/**
 * LiteLLM builds `/openapi.json` from every route on first request: 5 s on a quiet machine for
 * 1.82.6 and 1.106.4 alike, and more than check's 5 s on a loaded one (issue 18, a failed CI run).
 * It is only the last resort, so it gets room.
 */
const OPENAPI_TIMEOUT_MS = 60_000;

/**
 * LiteLLM's version from the cheapest place that states it. Seen on real releases (test/e2e):
 * `/health/readiness` carries `litellm_version` up to the 1.8x line, 1.106 dropped it from the
 * public probe; `/public/model_hub/info` (unauthenticated, milliseconds) has it in 1.82.6 and
 * 1.106.4; none of LiteLLM's responses carries a version header (`x-litellm-version` is set on its
 * own LLM routes only, not on `/anthropic` pass-through, health or error answers).
 */
export async function detectLitellmVersion(
  origin: string,
  readinessBody: string,
): Promise<DetectedVersion | undefined> {
  const fromReadiness = stringField(parseJson(readinessBody), 'litellm_version');
  if (fromReadiness !== undefined) return { version: fromReadiness, source: 'GET /health/readiness' };
  const hub = await getJson(`${origin}/public/model_hub/info`, CHEAP_TIMEOUT_MS);
  const fromHub = stringField(hub, 'docs_title') === 'LiteLLM API' ? stringField(hub, 'litellm_version') : undefined;
  if (fromHub !== undefined) return { version: fromHub, source: 'GET /public/model_hub/info' };
  const info = ((await getJson(`${origin}/openapi.json`, OPENAPI_TIMEOUT_MS)) as { info?: unknown } | undefined)?.info;
  const fromOpenapi = stringField(info, 'title') === 'LiteLLM API' ? stringField(info, 'version') : undefined;
  return fromOpenapi === undefined ? undefined : { version: fromOpenapi, source: 'GET /openapi.json' };
}

async function getJson(url: string, timeoutMs: number): Promise<unknown> {
  try {
    const res = await request(url, { headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    if (res.statusCode !== 200) {
      await res.body.dump();
      return undefined;
    }
    return await res.body.json();
  } catch {
    return undefined;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function stringField(value: unknown, key: string): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = (value as Record<string, unknown>)[key];
  return typeof v === 'string' ? v : undefined;
}
