import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { runInject } from '../../src/cli/inject.js';
import { ConfigError } from '../../src/config/options.js';
import { loadInjectorConfig } from '../../src/injector/config.js';
import { mutate, type Mutation } from '../../src/injector/mutate.js';
import { PLACEHOLDER_API_KEY, SERVICE_ACCOUNT_DIR, SIDECAR_NAME } from '../../src/injector/sidecar.js';
import { cliIo, GOLDEN_ENV, goldenConfig, validatePod } from './_helpers.js';

/**
 * Workload Identity Federation in the injector (issue 17): which pods are federated, what they get,
 * and every way the annotations can be wrong, row by row.
 */

const RULE = 'fdrl_01HZX3K9Q7ABCDEF';
const ORG = '4c2d9e1a-7b3f-4e5a-9c1d-2f6b8a0e3d57';
const SVAC = 'svac_01HZX3K9Q7GHIJKL';
const FEDERATED = {
  'auth-shim.io/inject': 'true',
  'auth-shim.io/federation-rule-id': RULE,
  'auth-shim.io/organization-id': ORG,
  'auth-shim.io/service-account-id': SVAC,
};

const config = goldenConfig();

function run(annotations: Record<string, string>, cfg = config, spec: Record<string, unknown> = {}): Mutation {
  return mutate({
    pod: {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'agent', annotations },
      spec: { serviceAccountName: 'agent', containers: [{ name: 'agent', image: 'a' }], ...spec },
    },
    namespace: 'ai',
    namespaceOptedIn: false,
    config: cfg,
  });
}

function injected(m: Mutation): V1Pod & { spec: { initContainers: V1Container[]; containers: V1Container[] } } {
  if (m.outcome !== 'injected') throw new Error(`${m.outcome}: ${JSON.stringify(m)}`);
  validatePod(m.pod);
  return m.pod as never;
}

function sidecarOf(pod: ReturnType<typeof injected>): V1Container {
  const c = [...pod.spec.initContainers, ...pod.spec.containers].find((x) => x.name === SIDECAR_NAME);
  if (c === undefined) throw new Error('no sidecar');
  return c;
}

const envOf = (c: V1Container) => Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));

describe('a federated pod', () => {
  const pod = injected(run(FEDERATED));
  const sidecar = sidecarOf(pod);
  const agent = pod.spec.containers.find((c) => c.name === 'agent') as V1Container;
  const projected = (pod.spec.volumes ?? []).filter((v) => v.projected !== undefined);

  it('gets one projected service-account token with the default audience and lifetime', () => {
    expect(projected).toEqual([
      {
        name: 'auth-shim-identity-token',
        projected: {
          sources: [
            { serviceAccountToken: { audience: 'https://api.anthropic.com', expirationSeconds: 3600, path: 'token' } },
          ],
        },
      },
    ]);
  });

  it('mounts it read-only in the sidecar and in no other container', () => {
    expect(sidecar.volumeMounts).toContainEqual({
      name: 'auth-shim-identity-token',
      mountPath: '/var/run/secrets/auth-shim/identity-token',
      readOnly: true,
    });
    for (const c of pod.spec.containers) expect(c.volumeMounts ?? []).toEqual([]);
  });

  it("keeps the pod's API token out of the sidecar, as without federation (issue 15)", () => {
    const mask = sidecar.volumeMounts?.find((m) => m.mountPath === SERVICE_ACCOUNT_DIR);
    expect(mask?.readOnly).toBe(true);
    expect(pod.spec.volumes?.find((v) => v.name === mask?.name)).toEqual({ name: mask?.name, emptyDir: {} });
  });

  it("sets the proxy's federation variables, mounts no OAuth token Secret (injector default: claude-oauth)", () => {
    const env = envOf(sidecar);
    expect(env).toMatchObject({
      AUTH_SHIM_IDENTITY_TOKEN_FILE: '/var/run/secrets/auth-shim/identity-token/token',
      AUTH_SHIM_FEDERATION_RULE_ID: RULE,
      AUTH_SHIM_ORGANIZATION_ID: ORG,
      AUTH_SHIM_SERVICE_ACCOUNT_ID: SVAC,
    });
    expect(env).not.toHaveProperty('AUTH_SHIM_WORKSPACE_ID');
    expect(env).not.toHaveProperty('AUTH_SHIM_OAUTH_TOKEN_FILE');
    expect(JSON.stringify(pod.spec.volumes)).not.toContain('claude-oauth');
    expect(env['AUTH_SHIM_LITELLM_KEY_FILE']).toBeDefined();
  });

  it("shim-only: the federated token is the sidecar's own credential, no Secret needed", () => {
    const p = injected(run({ ...FEDERATED, 'auth-shim.io/credential-source': 'shim-only' }));
    expect(envOf(sidecarOf(p))).toMatchObject({
      AUTH_SHIM_CREDENTIAL_SOURCE: 'shim-only',
      AUTH_SHIM_FEDERATION_RULE_ID: RULE,
    });
    expect((p.spec.volumes ?? []).filter((v) => v.secret !== undefined).map((v) => v.secret?.secretName)).toEqual([
      'litellm-virtual-key',
    ]);
  });

  it('gives the agent the placeholder key, never a credential', () => {
    expect(envOf(agent)).toEqual({
      ANTHROPIC_BASE_URL: 'http://127.0.0.1:8787',
      ANTHROPIC_API_KEY: PLACEHOLDER_API_KEY,
    });
  });

  it('takes workspace, audience and lifetime from annotations', () => {
    const p = injected(
      run({
        ...FEDERATED,
        'auth-shim.io/workspace-id': 'default',
        'auth-shim.io/identity-token-audience': 'https://federation.example.com/anthropic',
        'auth-shim.io/identity-token-expiration-seconds': '600',
      }),
    );
    expect(envOf(sidecarOf(p))['AUTH_SHIM_WORKSPACE_ID']).toBe('default');
    expect(p.spec.volumes?.find((v) => v.projected)?.projected?.sources?.[0]?.serviceAccountToken).toEqual({
      audience: 'https://federation.example.com/anthropic',
      expirationSeconds: 600,
      path: 'token',
    });
  });

  it("a token URL annotation becomes the proxy's AUTH_SHIM_TOKEN_URL; without one the proxy keeps its default", () => {
    const url = 'http://litellm.ai.svc:4000/anthropic-federation/v1/oauth/token';
    const p = injected(run({ ...FEDERATED, 'auth-shim.io/token-url': url }));
    expect(envOf(sidecarOf(p))['AUTH_SHIM_TOKEN_URL']).toBe(url);
    expect(envOf(sidecar)).not.toHaveProperty('AUTH_SHIM_TOKEN_URL');
  });

  it('picks a free volume name when the pod already has auth-shim-identity-token', () => {
    const p = injected(run(FEDERATED, config, { volumes: [{ name: 'auth-shim-identity-token', emptyDir: {} }] }));
    expect(sidecarOf(p).volumeMounts?.find((m) => m.mountPath.endsWith('identity-token'))?.name).toBe(
      'auth-shim-identity-token-2',
    );
  });
});

describe('injector defaults', () => {
  const platform = goldenConfig({
    AUTH_SHIM_DEFAULT_FEDERATION_RULE_ID: RULE,
    AUTH_SHIM_DEFAULT_ORGANIZATION_ID: ORG,
    AUTH_SHIM_DEFAULT_SERVICE_ACCOUNT_ID: SVAC,
    AUTH_SHIM_DEFAULT_WORKSPACE_ID: 'wrkspc_01HZX3K9Q7MNOPQR',
    AUTH_SHIM_DEFAULT_IDENTITY_TOKEN_EXPIRATION_SECONDS: '1800',
    AUTH_SHIM_DEFAULT_TOKEN_URL: 'http://litellm.ai.svc:4000/anthropic-federation/v1/oauth/token',
  });

  it('federate a pod that only asks for injection', () => {
    const sidecar = sidecarOf(injected(run({ 'auth-shim.io/inject': 'true' }, platform)));
    expect(envOf(sidecar)).toMatchObject({
      AUTH_SHIM_FEDERATION_RULE_ID: RULE,
      AUTH_SHIM_WORKSPACE_ID: 'wrkspc_01HZX3K9Q7MNOPQR',
      AUTH_SHIM_TOKEN_URL: 'http://litellm.ai.svc:4000/anthropic-federation/v1/oauth/token',
    });
  });

  it('a pod overrides them, and clears the workspace with ""', () => {
    const env = envOf(
      sidecarOf(
        injected(
          run(
            {
              'auth-shim.io/inject': 'true',
              'auth-shim.io/service-account-id': 'svac_other',
              'auth-shim.io/workspace-id': '',
            },
            platform,
          ),
        ),
      ),
    );
    expect(env['AUTH_SHIM_SERVICE_ACCOUNT_ID']).toBe('svac_other');
    expect(env).not.toHaveProperty('AUTH_SHIM_WORKSPACE_ID');
  });

  it('federation-rule-id "" leaves federation: the default OAuth Secret is mounted again', () => {
    const pod = injected(run({ 'auth-shim.io/inject': 'true', 'auth-shim.io/federation-rule-id': '' }, platform));
    const env = envOf(sidecarOf(pod));
    expect(env).not.toHaveProperty('AUTH_SHIM_FEDERATION_RULE_ID');
    expect(env['AUTH_SHIM_OAUTH_TOKEN_FILE']).toBeDefined();
    expect((pod.spec.volumes ?? []).some((v) => v.projected !== undefined)).toBe(false);
  });

  it('organization and service account defaults alone federate nothing', () => {
    const cfg = goldenConfig({ AUTH_SHIM_DEFAULT_ORGANIZATION_ID: ORG, AUTH_SHIM_DEFAULT_SERVICE_ACCOUNT_ID: SVAC });
    expect(envOf(sidecarOf(injected(run({ 'auth-shim.io/inject': 'true' }, cfg))))).not.toHaveProperty(
      'AUTH_SHIM_IDENTITY_TOKEN_FILE',
    );
  });

  it('bad defaults are every one reported before anything runs', () => {
    let err: unknown;
    try {
      loadInjectorConfig(
        {
          ...GOLDEN_ENV,
          AUTH_SHIM_DEFAULT_FEDERATION_RULE_ID: 'rule-1',
          AUTH_SHIM_DEFAULT_ORGANIZATION_ID: 'acme',
          AUTH_SHIM_DEFAULT_SERVICE_ACCOUNT_ID: 'svac_',
          AUTH_SHIM_DEFAULT_WORKSPACE_ID: 'wrkspc_a-b',
          AUTH_SHIM_DEFAULT_IDENTITY_TOKEN_AUDIENCE: 'api.anthropic.com',
          AUTH_SHIM_DEFAULT_IDENTITY_TOKEN_EXPIRATION_SECONDS: '300',
        },
        [],
      );
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual([
      'AUTH_SHIM_DEFAULT_FEDERATION_RULE_ID must be a federation rule ID (fdrl_…), got "rule-1"',
      'AUTH_SHIM_DEFAULT_ORGANIZATION_ID must be a UUID, got "acme"',
      'AUTH_SHIM_DEFAULT_SERVICE_ACCOUNT_ID must be a service account ID (svac_…), got "svac_"',
      'AUTH_SHIM_DEFAULT_WORKSPACE_ID must be a workspace ID (wrkspc_…) or default, got "wrkspc_a-b"',
      'AUTH_SHIM_DEFAULT_IDENTITY_TOKEN_AUDIENCE must be an https URL such as https://api.anthropic.com, got ' +
        '"api.anthropic.com"',
      'AUTH_SHIM_DEFAULT_IDENTITY_TOKEN_EXPIRATION_SECONDS must be a whole number of seconds from 600 (the API ' +
        'server\'s minimum) to 4294967296, got "300"',
    ]);
  });

  it('a default rule with a client-only default is refused', () => {
    expect(() =>
      loadInjectorConfig(
        {
          ...GOLDEN_ENV,
          AUTH_SHIM_DEFAULT_FEDERATION_RULE_ID: RULE,
          AUTH_SHIM_DEFAULT_CREDENTIAL_SOURCE: 'client-only',
        },
        [],
      ),
    ).toThrow(/AUTH_SHIM_DEFAULT_FEDERATION_RULE_ID is set but AUTH_SHIM_DEFAULT_CREDENTIAL_SOURCE=client-only/);
  });
});

/** One row per way to get it wrong: the annotations over FEDERATED, and the problem the denial names. */
const INVALID: [string, Record<string, string>, string][] = [
  [
    'rule id shape',
    { 'auth-shim.io/federation-rule-id': 'fdrl-01' },
    'federation-rule-id must be a federation rule ID (fdrl_…), got "fdrl-01"',
  ],
  [
    'organization not a UUID',
    { 'auth-shim.io/organization-id': 'org_01' },
    'organization-id must be a UUID, got "org_01"',
  ],
  [
    'service account shape',
    { 'auth-shim.io/service-account-id': 'user_01' },
    'service-account-id must be a service account ID (svac_…), got "user_01"',
  ],
  [
    'workspace shape',
    { 'auth-shim.io/workspace-id': 'wrkspc_' },
    'workspace-id must be a workspace ID (wrkspc_…) or default, got "wrkspc_"',
  ],
  [
    'audience not https',
    { 'auth-shim.io/identity-token-audience': 'http://api.anthropic.com' },
    'identity-token-audience must be an https URL',
  ],
  [
    'audience not a URL',
    { 'auth-shim.io/identity-token-audience': 'anthropic' },
    'identity-token-audience must be an https URL',
  ],
  ['audience empty', { 'auth-shim.io/identity-token-audience': '' }, 'identity-token-audience must be an https URL'],
  [
    'expiration below 600',
    { 'auth-shim.io/identity-token-expiration-seconds': '599' },
    "from 600 (the API server's minimum)",
  ],
  ['expiration not an integer', { 'auth-shim.io/identity-token-expiration-seconds': '3600.5' }, 'got "3600.5"'],
  ['expiration with a unit', { 'auth-shim.io/identity-token-expiration-seconds': '1h' }, 'got "1h"'],
  ['expiration empty', { 'auth-shim.io/identity-token-expiration-seconds': '' }, 'got ""'],
  ['expiration too long', { 'auth-shim.io/identity-token-expiration-seconds': '4294967297' }, 'to 4294967296'],
  [
    'rule without organization',
    { 'auth-shim.io/organization-id': '' },
    `federation rule ${RULE} needs auth-shim.io/organization-id`,
  ],
  [
    'rule without service account',
    { 'auth-shim.io/service-account-id': '' },
    `federation rule ${RULE} needs auth-shim.io/service-account-id`,
  ],
  [
    'organization without a rule',
    { 'auth-shim.io/federation-rule-id': '' },
    'auth-shim.io/organization-id, auth-shim.io/service-account-id are set but no federation rule is',
  ],
  [
    'with an OAuth token Secret',
    { 'auth-shim.io/oauth-token-secret': 'claude-oauth' },
    'oauth-token-secret with federation rule',
  ],
  ['with client-only', { 'auth-shim.io/credential-source': 'client-only' }, 'with credential source client-only'],
];

describe('invalid federation annotations are denied', () => {
  it.each(INVALID)('%s', (_name, annotations, problem) => {
    const m = run({ ...FEDERATED, ...annotations });
    expect(m.outcome).toBe('invalid');
    expect((m as { problems: string[] }).problems.join('\n')).toContain(problem);
  });

  it('every problem at once, not the first', () => {
    const all = Object.assign(
      {},
      ...INVALID.filter(([n]) => !n.startsWith('rule ') && !n.includes('without')).map((r) => r[1]),
    );
    const m = run({ ...FEDERATED, ...all });
    if (m.outcome !== 'invalid') throw new Error(m.outcome);
    expect(m.problems.length).toBeGreaterThanOrEqual(6);
  });

  it('a token URL alone (no rule anywhere) is refused rather than ignored', () => {
    const m = run({ 'auth-shim.io/inject': 'true', 'auth-shim.io/token-url': 'http://litellm:4000/t' });
    expect(m).toMatchObject({
      outcome: 'invalid',
      problems: [
        'auth-shim.io/token-url is set but no federation rule is: set auth-shim.io/federation-rule-id (or the ' +
          "injector's AUTH_SHIM_DEFAULT_FEDERATION_RULE_ID)",
      ],
    });
  });

  it('an audience annotation alone (no rule anywhere) is refused rather than ignored', () => {
    const m = run({
      'auth-shim.io/inject': 'true',
      'auth-shim.io/identity-token-audience': 'https://api.anthropic.com',
    });
    expect(m).toMatchObject({ outcome: 'invalid', problems: [expect.stringContaining('no federation rule is')] });
  });

  it('an empty OAuth annotation is no conflict', () => {
    injected(run({ ...FEDERATED, 'auth-shim.io/oauth-token-secret': '' }));
  });
});

describe('auth-shim inject', () => {
  it('federates through its flags, the same pure mutation as the webhook', async () => {
    const manifest = `apiVersion: v1
kind: Pod
metadata: {name: agent, namespace: ai, annotations: {auth-shim.io/inject: "true"}}
spec: {containers: [{name: agent, image: a}]}
`;
    const t = cliIo(manifest);
    const flags = ['--default-federation-rule-id', RULE, '--default-organization-id', ORG];
    const code = await runInject([...flags, '--default-service-account-id', SVAC], t.io);
    expect(t.result().stderr).not.toContain('cannot');
    expect(code).toBe(0);
    const pod = parse(t.result().stdout) as { metadata: Record<string, unknown> };
    const cfg = goldenConfig({
      AUTH_SHIM_DEFAULT_FEDERATION_RULE_ID: RULE,
      AUTH_SHIM_DEFAULT_ORGANIZATION_ID: ORG,
      AUTH_SHIM_DEFAULT_SERVICE_ACCOUNT_ID: SVAC,
    });
    const webhook = injected(mutate({ pod: parse(manifest), namespace: 'ai', namespaceOptedIn: false, config: cfg }));
    expect(pod).toEqual(webhook);
    expect(envOf(sidecarOf(webhook))['AUTH_SHIM_FEDERATION_RULE_ID']).toBe(RULE);
  });

  it('refuses a bad federation annotation and writes nothing', async () => {
    const t = cliIo(`apiVersion: v1
kind: Pod
metadata: {name: agent, annotations: {auth-shim.io/inject: "true", auth-shim.io/federation-rule-id: ${RULE}}}
spec: {containers: [{name: agent, image: a}]}
`);
    expect(await runInject([], t.io)).toBe(1);
    expect(t.result().stdout).toBe('');
    expect(t.result().stderr).toContain(`federation rule ${RULE} needs auth-shim.io/organization-id`);
  });
});
