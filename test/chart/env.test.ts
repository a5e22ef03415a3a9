import { describe, expect, it } from 'vitest';
import { INJECTOR_OPTIONS, loadWebhookConfig, WEBHOOK_OPTIONS } from '../../src/injector/config.js';
import { mutate } from '../../src/injector/mutate.js';
import { NODE_HARDENING_FLAGS } from '../../src/injector/sidecar.js';
import { validatePod } from '../injector/_helpers.js';
import { resolvedEnv, webhookContainer } from './_env.js';
import { CI_VALUES, ciValuesPath, NAMESPACE, renderChart } from './_render.js';

/**
 * Chart values map 1:1 onto the webhook's AUTH_SHIM_* variables. The rendered environment is fed
 * to the webhook's real configuration loader, so a value the chart sets wrongly (a bad name, a
 * float where an integer goes, a missing required variable) fails here rather than in a
 * crash-looping pod; and the injector it configures must produce a schema-valid pod.
 */

const OPTIONS = { ...INJECTOR_OPTIONS, ...WEBHOOK_OPTIONS };
const OPTION_ENVS = new Set<string>(Object.values(OPTIONS).map((o) => o.env));
const REQUIRED_ENVS = Object.values(OPTIONS)
  .filter((o) => 'required' in o && o.required === true)
  .map((o) => o.env);

describe.each(CI_VALUES)('webhook environment with ci/%s', (file) => {
  it('sets only real options, every required one, each once, and the webhook accepts them', async () => {
    const c = webhookContainer(await renderChart(['-f', ciValuesPath(file)]));
    expect(c.args).toEqual(['webhook']);
    const names = c.env.map((e) => e.name);
    // NODE_OPTIONS is Node's, not an option: it must close the SIGUSR1 inspector (issue 15).
    expect(names.filter((n) => !OPTION_ENVS.has(n) && n !== 'NODE_OPTIONS')).toEqual([]);
    expect(c.env.find((e) => e.name === 'NODE_OPTIONS')?.value?.split(' ')).toContain(NODE_HARDENING_FLAGS);
    expect(new Set(names).size).toBe(names.length);
    for (const required of REQUIRED_ENVS) expect(names).toContain(required);
    expect(c.env.find((e) => e.name === 'AUTH_SHIM_NAMESPACE')?.valueFrom?.fieldRef?.fieldPath).toBe(
      'metadata.namespace',
    );
    const { injector } = loadWebhookConfig(resolvedEnv(c.env), []);
    expect(injector.namespace).toBe(NAMESPACE);
  });
});

describe('values → injector configuration', () => {
  it("the defaults are the injector's own defaults", async () => {
    const { injector, webhook } = loadWebhookConfig(resolvedEnv(webhookContainer(await renderChart()).env), []);
    const own = loadWebhookConfig(
      { AUTH_SHIM_SIDECAR_IMAGE: 'x', AUTH_SHIM_WEBHOOK_TLS_MODE: 'auto', AUTH_SHIM_NAMESPACE: NAMESPACE },
      [],
    );
    expect({ ...injector, sidecarImage: 'x' }).toEqual(own.injector);
    expect(injector.sidecarImage).toBe('ghcr.io/auth-shim/auth-shim:0.1.0');
    expect({ ...webhook, tlsSecret: '', webhookConfiguration: '', service: '' }).toEqual({
      ...own.webhook,
      tlsSecret: '',
      webhookConfiguration: '',
      service: '',
    });
  });

  it('every sidecar value reaches its variable (ci/classic-sidecar-values.yaml)', async () => {
    const { injector } = loadWebhookConfig(
      resolvedEnv(webhookContainer(await renderChart(['-f', ciValuesPath('classic-sidecar-values.yaml')])).env),
      [],
    );
    expect(injector).toMatchObject({
      sidecarImage: 'registry.example.com/mirror/auth-shim:0.1.0-mirror',
      sidecarImagePullPolicy: 'Always',
      defaultUpstreamUrl: new URL('https://litellm.example.com/anthropic'),
      defaultCredentialSource: 'shim-only',
      defaultNativeSidecar: false,
      apiKeySecret: 'anthropic-api-key',
      apiKeySecretKey: 'key',
      litellmKeySecret: 'litellm-virtual-key',
      cpuLimit: '500m',
      memoryLimit: '192Mi',
    });
  });

  it('the remaining values reach theirs', async () => {
    const set = {
      'sidecar.port': '18787',
      'sidecar.adminPort': '19464',
      'sidecar.logLevel': 'debug',
      'sidecar.resources.requests.cpu': '25m',
      'sidecar.resources.requests.memory': '128Mi',
      'sidecar.secrets.oauthToken.name': 'tok',
      'sidecar.secrets.oauthToken.key': 'token',
      'sidecar.secrets.litellmKey.key': 'vk',
      'sidecar.image.digest': 'sha256:abc',
      logLevel: 'warn',
      'webhook.port': '10443',
      'webhook.adminPort': '10464',
      'webhook.requestTimeoutMs': '3000',
      'webhook.maxBodyBytes': '1048576',
      'webhook.drainTimeoutMs': '20000',
      'certificates.auto.checkIntervalMs': '7200000',
    };
    const objects = await renderChart(Object.entries(set).flatMap(([k, v]) => ['--set', `${k}=${v}`]));
    const { injector, webhook } = loadWebhookConfig(resolvedEnv(webhookContainer(objects).env), []);
    expect(injector).toMatchObject({
      sidecarPort: 18787,
      sidecarAdminPort: 19464,
      sidecarLogLevel: 'debug',
      cpuRequest: '25m',
      memoryRequest: '128Mi',
      oauthTokenSecret: 'tok',
      oauthTokenSecretKey: 'token',
      litellmKeySecretKey: 'vk',
      sidecarImage: 'ghcr.io/auth-shim/auth-shim@sha256:abc',
    });
    expect(webhook).toMatchObject({
      logLevel: 'warn',
      listen: { host: '0.0.0.0', port: 10443 },
      adminListen: { host: '0.0.0.0', port: 10464 },
      requestTimeoutMs: 3000,
      maxBodyBytes: 1048576,
      drainTimeoutMs: 20000,
      certCheckIntervalMs: 7200000,
    });
  });

  it('federation values reach theirs; an injection-only pod is federated (ci/federation-values.yaml)', async () => {
    const { injector } = loadWebhookConfig(
      resolvedEnv(webhookContainer(await renderChart(['-f', ciValuesPath('federation-values.yaml')])).env),
      [],
    );
    expect(injector).toMatchObject({
      defaultFederationRuleId: 'fdrl_01HZX3K9Q7ABCDEF',
      defaultOrganizationId: '4c2d9e1a-7b3f-4e5a-9c1d-2f6b8a0e3d57',
      defaultServiceAccountId: 'svac_01HZX3K9Q7GHIJKL',
      defaultWorkspaceId: 'default',
      defaultIdentityTokenAudience: 'https://api.anthropic.com',
      defaultIdentityTokenExpirationSeconds: 7200,
      defaultTokenUrl: new URL('http://litellm.ai.svc:4000/anthropic-federation/v1/oauth/token'),
    });
    const m = mutate({
      pod: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'agent', annotations: { 'auth-shim.io/inject': 'true' } },
        spec: { containers: [{ name: 'agent', image: 'agent:1' }] },
      },
      namespace: 'ai',
      namespaceOptedIn: false,
      config: injector,
    });
    if (m.outcome !== 'injected') throw new Error(JSON.stringify(m));
    validatePod(m.pod);
    expect(JSON.stringify(m.pod)).toContain(
      '"serviceAccountToken":{"audience":"https://api.anthropic.com","expirationSeconds":7200',
    );
  });

  it('a custom audience and lifetime reach the injector', async () => {
    const objects = await renderChart([
      '--set',
      'sidecar.federation.audience=https://federation.example.com',
      '--set',
      'sidecar.federation.expirationSeconds=600',
    ]);
    const { injector } = loadWebhookConfig(resolvedEnv(webhookContainer(objects).env), []);
    expect(injector).toMatchObject({
      defaultFederationRuleId: undefined,
      defaultIdentityTokenAudience: 'https://federation.example.com',
      defaultIdentityTokenExpirationSeconds: 600,
    });
  });

  it.each(['cert-manager-values.yaml', 'classic-sidecar-values.yaml'])(
    'the injector configured by ci/%s injects a schema-valid pod',
    async (file) => {
      const { injector } = loadWebhookConfig(
        resolvedEnv(webhookContainer(await renderChart(['-f', ciValuesPath(file)])).env),
        [],
      );
      const pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'agent', namespace: 'ai', annotations: { 'auth-shim.io/inject': 'true' } },
        spec: { containers: [{ name: 'agent', image: 'agent:1' }] },
      };
      const m = mutate({ pod, namespace: 'ai', namespaceOptedIn: false, config: injector });
      expect(m.outcome).toBe('injected');
      if (m.outcome === 'injected') validatePod(m.pod);
    },
  );
});
