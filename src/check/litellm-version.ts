/**
 * What a LiteLLM version means for auth-shim, read from LiteLLM's published source and confirmed
 * against real releases in test/e2e (this corrects facts.md §3, which put the boundary at 1.83):
 * - ≤ 1.74.13: `/anthropic` always goes to api.anthropic.com (ANTHROPIC_API_BASE ignored);
 * - 1.74.14 – 1.82.4: `anthropic_proxy_route` sends `x-api-key: "{}".format(key)` — the literal
 *   `None` when the LiteLLM pod has no Anthropic key — and Anthropic decides on x-api-key when both
 *   arrive, so a subscription token can never get through;
 * - ≥ 1.82.5: the route adds a credential only when LiteLLM has one (`get_auth_header`), so the
 *   client's Authorization reaches Anthropic (if the pod has no Anthropic credential);
 * - ≤ 1.102.4: `/anthropic` forwards the client's `x-litellm-api-key` to Anthropic with every
 *   request; 1.103.0 is the first release that drops it (bisected over the PyPI releases against a
 *   header-recording upstream, issue 18; docs/PEERS.md);
 * - 1.82.7, 1.82.8 and 1.107.0 were malicious or compromised uploads.
 */
export interface LitellmVerdict {
  readonly version: string;
  readonly oauth: boolean;
  /** Whether `/anthropic` sends the LiteLLM virtual key on to Anthropic. */
  readonly forwardsKey: boolean;
  readonly compromised: boolean;
  readonly notes: string[];
}

const COMPROMISED = new Set(['1.82.7', '1.82.8', '1.107.0']);
/** The first release whose `/anthropic` no longer forwards `x-litellm-api-key` upstream. */
export const KEY_FORWARDING_FIXED = '1.103.0';

export function parseVersion(v: string): [number, number, number] | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(v.trim());
  return m === null ? undefined : [Number(m[1]), Number(m[2]), Number(m[3])];
}

function atLeast(v: [number, number, number], min: [number, number, number]): boolean {
  for (let i = 0; i < 3; i++) {
    if ((v[i] as number) !== min[i]) return (v[i] as number) > (min[i] as number);
  }
  return true;
}

export function litellmVerdict(version: string): LitellmVerdict {
  const v = parseVersion(version);
  const notes: string[] = [];
  const compromised = COMPROMISED.has(version.trim().replace(/^v/, ''));
  if (compromised) notes.push(`LiteLLM ${version} was a malicious/compromised release: replace it now`);
  if (v === undefined)
    return {
      version,
      oauth: false,
      forwardsKey: false,
      compromised,
      notes: [...notes, `cannot parse LiteLLM version ${JSON.stringify(version)}`],
    };
  if (!atLeast(v, [1, 74, 14])) {
    notes.push('this version ignores ANTHROPIC_API_BASE and sends /anthropic straight to api.anthropic.com');
  }
  const oauth = atLeast(v, [1, 82, 5]);
  if (!oauth) {
    notes.push(
      '/anthropic cannot carry a subscription OAuth token before LiteLLM 1.82.5: with no Anthropic key on the ' +
        'LiteLLM pod it adds `x-api-key: None`, and Anthropic decides on x-api-key; ' +
        'upgrade LiteLLM (API keys still work)',
    );
  } else {
    notes.push(
      'OAuth works if the LiteLLM pod has no ANTHROPIC_API_KEY / ANTHROPIC_AUTH_TOKEN and no use_in_pass_through ' +
        "Anthropic deployment (a server credential wins over the client's)",
    );
  }
  const forwardsKey = !atLeast(v, parseVersion(KEY_FORWARDING_FIXED) as [number, number, number]);
  return { version, oauth, forwardsKey, compromised, notes };
}
