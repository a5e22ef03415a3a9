import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/options.js';
import { loadProxyConfig } from '../../src/config/proxy-config.js';
import { loadWebhookConfig, quantity } from '../../src/injector/config.js';
import { mutate } from '../../src/injector/mutate.js';
import { appendAll, escapePointer, pointer, prependAll, setKeys } from '../../src/injector/patch.js';
import { heapMiB, sidecarContainer, sidecarEnv, type SidecarSettings } from '../../src/injector/sidecar.js';
import { goldenConfig, validatePod } from './_helpers.js';

describe('JSON Patch helpers', () => {
  it('escapes ~ before / (RFC 6901)', () => {
    expect(escapePointer('auth-shim.io/status')).toBe('auth-shim.io~1status');
    expect(escapePointer('a~/b')).toBe('a~0~1b');
    expect(pointer('metadata', 'annotations', 'x/y', 0)).toBe('/metadata/annotations/x~1y/0');
  });
  it('creates an absent array instead of appending to it', () => {
    expect(appendAll('/spec/volumes', undefined, [1, 2])).toEqual([
      { op: 'add', path: '/spec/volumes', value: [1, 2] },
    ]);
    expect(appendAll('/spec/volumes', [], [1])).toEqual([{ op: 'add', path: '/spec/volumes/-', value: 1 }]);
    expect(prependAll('/spec/initContainers', [0], [1, 2]).map((o) => o.path)).toEqual([
      '/spec/initContainers/0',
      '/spec/initContainers/1',
    ]);
    expect(setKeys('/metadata/annotations', undefined, { 'a/b': 'c' })).toEqual([
      { op: 'add', path: '/metadata/annotations', value: { 'a/b': 'c' } },
    ]);
  });
});

const settings: SidecarSettings = {
  image: 'i',
  imagePullPolicy: 'IfNotPresent',
  upstream: 'http://litellm:4000/anthropic',
  credentialSource: 'shim-only',
  native: true,
  secrets: [
    { slot: 'oauth', secretName: 's', key: 'k', volumeName: 'v' },
    { slot: 'apiKey', secretName: 'a', key: 'key', volumeName: 'w' },
    { slot: 'litellmKey', secretName: 'l', key: 'lk', volumeName: 'x' },
  ],
  port: 8787,
  adminPort: 9464,
  cpuRequest: '10m',
  cpuLimit: '1',
  memoryRequest: '64Mi',
  memoryLimit: '256Mi',
  logLevel: 'info',
  serviceAccountMask: 'auth-shim-no-api-token',
  federation: undefined,
};

describe('the sidecar definition', () => {
  it("is configured in the proxy's own variables, accepted by the real proxy loader", () => {
    const env = Object.fromEntries(sidecarEnv(settings).map((e) => [e.name, e.value]));
    const c = loadProxyConfig(env);
    expect(c.oauthTokenFile).toBe('/var/run/secrets/auth-shim/oauth-token/k');
    expect(c.apiKeyFile).toBe('/var/run/secrets/auth-shim/api-key/key');
    expect(c.litellmKeyFile).toBe('/var/run/secrets/auth-shim/litellm-key/lk');
    expect(c.listen).toEqual({ host: '127.0.0.1', port: 8787 });
    expect(c.adminListen).toEqual({ host: '0.0.0.0', port: 9464 });
    expect(c.credentialSource).toBe('shim-only');
  });
  it('mounts directories read-only, never subPath, and runs locked down', () => {
    const c = sidecarContainer(settings);
    for (const m of c.volumeMounts ?? []) {
      expect(m.subPath).toBeUndefined();
      expect(m.readOnly).toBe(true);
    }
    expect(c.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 65532,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(c.startupProbe?.httpGet).toMatchObject({ path: '/readyz', port: 9464 });
    expect(c.livenessProbe?.httpGet).toMatchObject({ path: '/healthz', port: 9464 });
    expect(c.restartPolicy).toBe('Always');
  });
  it('caps the V8 heap at half the memory limit', () => {
    expect(heapMiB('256Mi')).toBe(128);
    expect(heapMiB('1Gi')).toBe(512);
    expect(heapMiB('500M')).toBe(238);
    expect(heapMiB('16Mi')).toBeUndefined();
  });
});

describe('mutate', () => {
  const config = goldenConfig();
  const pod = (annotations: Record<string, string>, spec: Record<string, unknown> = {}) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', annotations },
    spec: { containers: [{ name: 'a', image: 'a' }], ...spec },
  });
  it('names a third colliding volume -3 and keeps the pod valid', () => {
    const m = mutate({
      pod: pod(
        { 'auth-shim.io/inject': 'true' },
        {
          volumes: [
            { name: 'auth-shim-litellm-key', emptyDir: {} },
            { name: 'auth-shim-no-api-token', emptyDir: {} },
          ],
        },
      ),
      namespace: 'ai',
      namespaceOptedIn: false,
      config,
    });
    if (m.outcome !== 'injected') throw new Error(m.outcome);
    validatePod(m.pod);
    expect((m.pod['spec'] as { volumes: { name: string }[] }).volumes.map((v) => v.name)).toEqual([
      'auth-shim-litellm-key',
      'auth-shim-no-api-token',
      'auth-shim-oauth-token',
      'auth-shim-litellm-key-2',
      'auth-shim-no-api-token-2',
    ]);
  });
  it('refuses shim-only without an Anthropic credential Secret', () => {
    const m = mutate({
      pod: pod({
        'auth-shim.io/inject': 'true',
        'auth-shim.io/credential-source': 'shim-only',
        'auth-shim.io/oauth-token-secret': '',
      }),
      namespace: 'ai',
      namespaceOptedIn: false,
      config,
    });
    expect(m).toMatchObject({
      outcome: 'invalid',
      problems: [expect.stringContaining('shim-only needs an OAuth token or API key Secret')],
    });
  });
  it('a token pasted where a Secret name belongs is refused, not echoed (the denial reaches kubectl, events)', () => {
    const token = `sk-ant-oat01-${'Q'.repeat(90)}`;
    const m = mutate({
      pod: pod({
        'auth-shim.io/inject': 'true',
        'auth-shim.io/oauth-token-secret': token,
        'auth-shim.io/native-sidecar': token,
      }),
      namespace: 'ai',
      namespaceOptedIn: false,
      config,
    });
    expect(m.outcome).toBe('invalid');
    const text = JSON.stringify(m);
    expect(text).toContain('must be a Secret name or name/key');
    expect(text).not.toContain('QQQQQQQQ');
  });
  it('skips with a warning when no upstream is configured anywhere', () => {
    const m = mutate({
      pod: pod({ 'auth-shim.io/inject': 'true' }),
      namespace: 'ai',
      namespaceOptedIn: false,
      config: { ...config, defaultUpstreamUrl: undefined },
    });
    expect(m).toMatchObject({ outcome: 'skipped', warn: true, reason: expect.stringContaining('no upstream') });
  });
  it('does not modify its input', () => {
    const input = pod({ 'auth-shim.io/inject': 'true' });
    const copy = structuredClone(input);
    mutate({ pod: input, namespace: 'ai', namespaceOptedIn: false, config });
    expect(input).toEqual(copy);
  });
});

describe('injector configuration', () => {
  it('collects every problem before anything listens', () => {
    let err: unknown;
    try {
      loadWebhookConfig(
        {
          AUTH_SHIM_WEBHOOK_TLS_MODE: 'auto',
          AUTH_SHIM_SIDECAR_CPU_REQUEST: '-1',
          AUTH_SHIM_WEBHOOK_LISTEN: '0.0.0.0:9464',
        },
        [],
      );
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual([
      'AUTH_SHIM_SIDECAR_IMAGE is required (Image of the injected sidecar (this image, run as `auth-shim proxy`), ' +
        'e.g. `ghcr.io/org/auth-shim:0.1.0`.)',
      'AUTH_SHIM_SIDECAR_CPU_REQUEST must be a Kubernetes quantity greater than 0 such as 10m, 64Mi or 0.5, got "-1"',
      'AUTH_SHIM_NAMESPACE is required when AUTH_SHIM_WEBHOOK_TLS_MODE=auto ' +
        "(the Secret and the certificate's DNS names live there)",
      'AUTH_SHIM_WEBHOOK_LISTEN and AUTH_SHIM_ADMIN_LISTEN must use different ports, both are 9464',
    ]);
  });
  it('needs both certificate files in files mode', () => {
    expect(() => loadWebhookConfig({ AUTH_SHIM_SIDECAR_IMAGE: 'i' }, [])).toThrow(
      /AUTH_SHIM_WEBHOOK_TLS_CERT_FILE is required[\s\S]*AUTH_SHIM_WEBHOOK_TLS_KEY_FILE is required/,
    );
    const { webhook } = loadWebhookConfig({ AUTH_SHIM_SIDECAR_IMAGE: 'i' }, [
      '--webhook-tls-cert-file',
      '/c',
      '--webhook-tls-key-file=/k',
    ]);
    expect(webhook.listen).toEqual({ host: '0.0.0.0', port: 8443 });
  });
  it('accepts Kubernetes quantities only', () => {
    for (const ok of ['10m', '64Mi', '0.5', '1', '1e3', '2Gi']) expect(quantity(ok, 'X')).toEqual({ value: ok });
    for (const bad of ['0', '-1', '64MB', 'lots', '', '0Mi']) expect(quantity(bad, 'X')).toHaveProperty('problem');
  });
});
