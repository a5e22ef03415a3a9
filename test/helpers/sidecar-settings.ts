import type { SidecarSettings } from '../../src/injector/sidecar.js';

/**
 * The sidecar as the chart's defaults inject it (ports, requests, limits, log level), for tests that
 * build one by hand; each test names only what it is about.
 */
export function sidecarSettings(overrides: Partial<SidecarSettings> = {}): SidecarSettings {
  return {
    image: 'x',
    imagePullPolicy: 'IfNotPresent',
    upstream: 'http://x',
    credentialSource: 'client-first',
    native: true,
    secrets: [],
    port: 8787,
    adminPort: 9464,
    cpuRequest: '10m',
    cpuLimit: undefined,
    memoryRequest: '96Mi',
    memoryLimit: '256Mi',
    logLevel: 'info',
    serviceAccountMask: undefined,
    federation: undefined,
    ...overrides,
  };
}
