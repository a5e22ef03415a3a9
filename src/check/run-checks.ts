import { stat } from 'node:fs/promises';
import { pino } from 'pino';
import { request } from 'undici';
import { displayUrl } from '../config/parsers.js';
import type { ProxyConfig } from '../config/proxy-config.js';
import { credentialFeed } from '../app/credential-feed.js';
import { credentialSlots } from '../config/credential-slots.js';
import { CredentialStore, type CredentialSnapshot } from '../credentials/store.js';
import { slotName, type CredentialSlot } from '../vocabulary/credentials.js';
import { classifyToken } from '../vocabulary/credentials.js';
import { maskSecret } from '../vocabulary/redaction.js';
import { createTranslator } from '../proxy/translate.js';
import { checkFederation } from './federation-check.js';
import { detectLitellmVersion, type DetectedVersion, type VersionSource } from './litellm-detect.js';
import { KEY_FORWARDING_FIXED, litellmVerdict } from './litellm-version.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  readonly name: string;
  readonly status: CheckStatus;
  readonly detail: string;
}

export interface CheckReport {
  readonly ok: boolean;
  readonly checks: CheckResult[];
  /** What a sample request's headers become (values masked). */
  readonly mapping: { readonly sample: string; readonly before: string[]; readonly after: string[] } | undefined;
  readonly litellmVersion?: string | undefined;
  /** Where the version was read (a cheap route first, `/openapi.json` only as the fallback). */
  readonly litellmVersionSource?: VersionSource | undefined;
}

const TIMEOUT_MS = 5_000;

/**
 * The checks behind `auth-shim check`: credentials (present, kind, age, expiry — never a value),
 * the upstream's reachability, LiteLLM's version and whether it can carry OAuth, whether the
 * LiteLLM key is accepted, and the header mapping a sample request would get.
 */
export async function runChecks(config: ProxyConfig): Promise<CheckReport> {
  const checks: CheckResult[] = [];
  checks.push({
    name: 'configuration',
    status: 'ok',
    detail: `valid: ${config.credentialSource}, upstream ${displayUrl(config.upstream)}`,
  });

  const loaded = await checkCredentials(config, checks);
  const federated = await checkFederation(config, loaded, checks, duration);
  const snapshot = federated === undefined ? loaded : { ...loaded, oauth: federated };
  const detected = await checkUpstream(config, snapshot, checks);
  const mapping = sampleMapping(config, snapshot);
  return {
    ok: checks.every((c) => c.status !== 'fail'),
    checks,
    mapping,
    litellmVersion: detected?.version,
    litellmVersionSource: detected?.source,
  };
}

async function checkCredentials(config: ProxyConfig, checks: CheckResult[]): Promise<CredentialSnapshot> {
  const slots = credentialSlots(config);
  if (Object.keys(slots).length === 0) {
    checks.push({
      name: 'credentials',
      status: config.credentialSource === 'client-only' ? 'ok' : 'warn',
      detail: "no credential configured: only clients' own Anthropic credentials can be forwarded, with no LiteLLM key",
    });
  }
  const store = new CredentialStore({
    slots,
    oauthExpiresAt: config.oauthTokenExpiresAt,
    log: pino({ level: 'silent' }),
  });
  await store.start(credentialFeed(config, pino({ level: 'silent' })));
  store.stop();
  const snap = store.snapshot();
  const files: Partial<Record<CredentialSlot, string | undefined>> = {
    oauth: config.oauthTokenFile,
    apiKey: config.apiKeyFile,
    litellmKey: config.litellmKeyFile,
  };
  for (const s of store.status()) {
    if (s.slot === 'oauth' && config.federation) continue; // checkFederation exchanges one itself
    const name = `${slotName(s.slot)}`;
    if (!s.loaded) {
      checks.push({ name, status: 'fail', detail: `${s.source}: ${s.problem ?? 'not loaded'}` });
      continue;
    }
    const value = s.slot === 'oauth' ? snap.oauth : s.slot === 'apiKey' ? snap.apiKey : snap.litellmKey;
    const parts = [`${s.source}: ${describeValue(s.slot, value ?? '')}`];
    const file = files[s.slot];
    if (file !== undefined) {
      const age = await stat(file).then(
        (st) => Date.now() - st.mtimeMs,
        () => undefined,
      );
      if (age !== undefined) parts.push(`written ${duration(age)} ago`);
    }
    let status: CheckStatus = 'ok';
    const expiresAt = s.slot === 'oauth' ? snap.oauthExpiresAt : undefined;
    if (expiresAt !== undefined) {
      const left = expiresAt.getTime() - Date.now();
      parts.push(
        left > 0
          ? `expires ${expiresAt.toISOString()} (in ${duration(left)})`
          : `EXPIRED at ${expiresAt.toISOString()}`,
      );
      if (left <= 0) status = 'fail';
      else if (left < 14 * 86_400_000) status = 'warn';
    }
    checks.push({ name, status, detail: parts.join(', ') });
  }
  return snap;
}

function describeValue(slot: CredentialSlot, value: string): string {
  if (slot === 'litellmKey') return `LiteLLM key ${maskSecret(value)}`;
  return classifyToken(value) === 'oauth'
    ? `subscription OAuth token ${maskSecret(value)}`
    : `Anthropic API key ${maskSecret(value)}`;
}

async function checkUpstream(
  config: ProxyConfig,
  snap: CredentialSnapshot,
  checks: CheckResult[],
): Promise<DetectedVersion | undefined> {
  const origin = config.upstream.origin;
  let readiness: { status: number; body: string };
  try {
    const res = await request(`${origin}/health/readiness`, { headersTimeout: TIMEOUT_MS, bodyTimeout: TIMEOUT_MS });
    readiness = { status: res.statusCode, body: (await res.body.text()).slice(0, 64 * 1024) };
  } catch (err) {
    const code = (err as { code?: string }).code ?? (err as Error).message;
    checks.push({ name: 'upstream', status: 'fail', detail: `${origin} is unreachable (${code})` });
    return undefined;
  }
  checks.push({
    name: 'upstream',
    status: 'ok',
    detail: `${origin} reachable (GET /health/readiness → ${readiness.status})`,
  });

  const detected = await detectLitellmVersion(origin, readiness.body);
  if (detected === undefined) {
    checks.push({
      name: 'litellm version',
      status: 'warn',
      detail:
        'the upstream did not report a LiteLLM version (/health/readiness, /public/model_hub/info, /openapi.json): not LiteLLM, or those routes are not exposed',
    });
    return undefined;
  }
  const { version, source } = detected;
  const verdict = litellmVerdict(version);
  const usesOauth = snap.oauth !== undefined || config.credentialSource !== 'shim-only';
  const status: CheckStatus = verdict.compromised || (!verdict.oauth && usesOauth) ? 'fail' : 'ok';
  checks.push({
    name: 'litellm version',
    status,
    detail: `${version} (from ${source}): ${verdict.oauth ? 'can carry OAuth tokens' : 'cannot carry OAuth tokens'}. ${verdict.notes.join('. ')}`,
  });

  if (snap.litellmKey !== undefined && verdict.forwardsKey) {
    checks.push({
      name: 'litellm key exposure',
      status: 'warn',
      detail: `LiteLLM ${version} forwards x-litellm-api-key to Anthropic with every /anthropic request: the virtual key leaves for a third party. ${KEY_FORWARDING_FIXED} stopped this; upgrade, and give each agent its own low-privilege key meanwhile`,
    });
  }
  if (snap.litellmKey !== undefined) {
    try {
      // A cheap authenticated call to LiteLLM itself (its OpenAI-style model list), not a pass-through.
      const res = await request(`${origin}/v1/models`, {
        headers: { [config.litellmKeyHeader]: snap.litellmKey },
        headersTimeout: TIMEOUT_MS,
        bodyTimeout: TIMEOUT_MS,
      });
      await res.body.dump();
      checks.push(
        res.statusCode === 200
          ? {
              name: 'litellm key',
              status: 'ok',
              detail: `accepted by LiteLLM (GET /v1/models → 200 with ${config.litellmKeyHeader})`,
            }
          : {
              name: 'litellm key',
              status: 'fail',
              detail: `refused by LiteLLM (GET /v1/models → ${res.statusCode} with ${config.litellmKeyHeader})`,
            },
      );
    } catch (err) {
      checks.push({
        name: 'litellm key',
        status: 'fail',
        detail: `could not be tested: ${(err as { code?: string }).code ?? (err as Error).message}`,
      });
    }
  }
  return detected;
}

function sampleMapping(config: ProxyConfig, snap: CredentialSnapshot): CheckReport['mapping'] {
  const translate = createTranslator({
    source: config.credentialSource,
    allowed: config.allowedCredentials,
    litellmKeyHeader: config.litellmKeyHeader,
  });
  const clientToken = config.credentialSource === 'shim-only' ? 'placeholder' : 'sk-ant-oat01-EXAMPLE-CLIENT-TOKEN';
  const sample =
    config.credentialSource === 'shim-only'
      ? 'Claude Code with ANTHROPIC_API_KEY=placeholder'
      : 'Claude Code with ANTHROPIC_API_KEY=sk-ant-oat01-…';
  const before = [
    'x-api-key',
    clientToken,
    'anthropic-beta',
    'claude-code-20250219',
    'anthropic-version',
    '2023-06-01',
    'user-agent',
    'claude-cli/2.1.330 (external, cli)',
    'content-type',
    'application/json',
  ];
  const t = translate(before, snap);
  const show = (flat: readonly string[]): string[] => {
    const out: string[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      const name = (flat[i] as string).toLowerCase();
      const value = flat[i + 1] as string;
      const secret = name === 'authorization' || name === 'x-api-key' || name === config.litellmKeyHeader;
      const shown = !secret
        ? value
        : value.startsWith('Bearer ')
          ? `Bearer ${maskSecret(value.slice(7))}`
          : maskSecret(value);
      out.push(`${name}: ${shown}`);
    }
    return out;
  };
  return {
    sample,
    before: show(before),
    after: t.ok ? show(t.headers) : [`(the shim answers ${t.error.status} ${t.error.type}: ${t.message})`],
  };
}

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} days`;
}
