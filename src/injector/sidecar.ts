import type { V1Container, V1EnvVar, V1Probe, V1SecurityContext, V1Volume } from '@kubernetes/client-node';
import type { CredentialSlot, CredentialSourcePolicy } from '../vocabulary/credentials.js';
import type { Federation } from './federation.js';

/**
 * The one definition of what auth-shim injects: the sidecar container, its Secret volumes and the
 * agent's environment. The webhook and `auth-shim inject` both call these through `mutate.ts`
 * (linkerd: one definition of the proxy used by every path that injects it). The types come from
 * @kubernetes/client-node (type-only import: nothing is loaded at run time), so a misspelt field
 * fails to compile.
 */

export const SIDECAR_NAME = 'auth-shim';
export const ADMIN_PORT_NAME = 'auth-shim-admin';
export const SECRET_MOUNT_ROOT = '/var/run/secrets/auth-shim';
export const BASE_URL_ENV = 'ANTHROPIC_BASE_URL';
/** A value the proxy never mistakes for a credential (it is neither `sk-ant-oat…` nor `sk-ant-api…`). */
export const PLACEHOLDER_API_KEY = 'auth-shim-placeholder';
/**
 * Environment variables through which Anthropic clients send a credential: the SDK's `ANTHROPIC_API_KEY`
 * (x-api-key) and `ANTHROPIC_AUTH_TOKEN` (Authorization: Bearer), which Claude Code reads too, and Claude
 * Code's own `CLAUDE_CODE_OAUTH_TOKEN` (Claude Code settings docs, "Environment variables").
 */
export const CREDENTIAL_ENVS = ['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN', 'CLAUDE_CODE_OAUTH_TOKEN'];
export const NON_ROOT_UID = 65532;
/** Where the ServiceAccount admission plugin mounts the pod's API token in every container without a mount there. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/**
 * Node flags every auth-shim process runs with (also the image ENTRYPOINT and the chart's webhook).
 * `--disable-sigusr1`: SIGUSR1 would open Node's unauthenticated inspector on 127.0.0.1:9229,
 * which every container of the pod shares — code evaluated there reads the credentials (issue 15).
 */
export const NODE_HARDENING_FLAGS = '--disable-sigusr1';

/** The proxy variable each slot's file goes to (src/config/proxy-config.ts). */
export const SLOT_FILE_ENV: Record<CredentialSlot, string> = {
  oauth: 'AUTH_SHIM_OAUTH_TOKEN_FILE',
  apiKey: 'AUTH_SHIM_API_KEY_FILE',
  litellmKey: 'AUTH_SHIM_LITELLM_KEY_FILE',
};

export const SLOT_DIR: Record<CredentialSlot, string> = {
  oauth: 'oauth-token',
  apiKey: 'api-key',
  litellmKey: 'litellm-key',
};

/** Where the projected service-account token of a federated sidecar is mounted (a directory, never subPath). */
export const IDENTITY_TOKEN_DIR = `${SECRET_MOUNT_ROOT}/identity-token`;
export const IDENTITY_TOKEN_PATH = 'token';
export const IDENTITY_TOKEN_FILE = `${IDENTITY_TOKEN_DIR}/${IDENTITY_TOKEN_PATH}`;

/** A federated sidecar: the identifiers it exchanges with, and the projected volume's name. */
export interface FederationMount extends Federation {
  /** Chosen by the mutation so it never collides with the pod's own volumes. */
  readonly volumeName: string;
}

export interface SecretMount {
  readonly slot: CredentialSlot;
  readonly secretName: string;
  readonly key: string;
  /** Chosen by the mutation so it never collides with the pod's own volumes. */
  readonly volumeName: string;
}

/** Everything that varies from one injected pod to the next, resolved from annotations and config. */
export interface SidecarSettings {
  readonly image: string;
  readonly imagePullPolicy: string;
  readonly upstream: string;
  readonly credentialSource: CredentialSourcePolicy;
  readonly native: boolean;
  readonly secrets: readonly SecretMount[];
  readonly port: number;
  readonly adminPort: number;
  readonly cpuRequest: string;
  readonly cpuLimit: string | undefined;
  readonly memoryRequest: string;
  readonly memoryLimit: string;
  readonly logLevel: string;
  /**
   * The volume (an empty directory) mounted over the service-account token directory in the
   * sidecar only, or undefined to leave the token mounted. The injected sidecar reads its
   * credentials from files and never calls the Kubernetes API, so it gets no token (issue 15).
   */
  readonly serviceAccountMask: string | undefined;
  /** Workload Identity Federation (issue 17): the sidecar's own OAuth credential, exchanged, never stored. */
  readonly federation: FederationMount | undefined;
}

export function secretFile(m: Pick<SecretMount, 'slot' | 'key'>): string {
  return `${SECRET_MOUNT_ROOT}/${SLOT_DIR[m.slot]}/${m.key}`;
}

/** The `auth-shim proxy` configuration, in the proxy's own variable names. */
export function sidecarEnv(s: SidecarSettings): V1EnvVar[] {
  const env: V1EnvVar[] = [
    { name: 'AUTH_SHIM_UPSTREAM_URL', value: s.upstream },
    { name: 'AUTH_SHIM_LISTEN', value: `127.0.0.1:${s.port}` },
    // Kubelet probes reach the pod IP, not loopback (HTTPGetAction.host defaults to the pod IP).
    { name: 'AUTH_SHIM_ADMIN_LISTEN', value: `0.0.0.0:${s.adminPort}` },
    { name: 'AUTH_SHIM_CREDENTIAL_SOURCE', value: s.credentialSource },
  ];
  for (const m of s.secrets) env.push({ name: SLOT_FILE_ENV[m.slot], value: secretFile(m) });
  const f = s.federation;
  if (f !== undefined) {
    env.push(
      { name: 'AUTH_SHIM_IDENTITY_TOKEN_FILE', value: IDENTITY_TOKEN_FILE },
      { name: 'AUTH_SHIM_FEDERATION_RULE_ID', value: f.ruleId },
      { name: 'AUTH_SHIM_ORGANIZATION_ID', value: f.organizationId },
      { name: 'AUTH_SHIM_SERVICE_ACCOUNT_ID', value: f.serviceAccountId },
    );
    if (f.workspaceId !== undefined) env.push({ name: 'AUTH_SHIM_WORKSPACE_ID', value: f.workspaceId });
    if (f.tokenUrl !== undefined) env.push({ name: 'AUTH_SHIM_TOKEN_URL', value: f.tokenUrl });
  }
  env.push({ name: 'AUTH_SHIM_LOG_LEVEL', value: s.logLevel });
  env.push({ name: 'NODE_OPTIONS', value: nodeOptions(s.memoryLimit) });
  return env;
}

/**
 * The sidecar's V8 flags for a memory limit. The young generation is set next to the heap cap:
 * with V8's default 16 MiB semi-spaces a 128 MiB old space spends most of its time in major GCs
 * (~900 req/s instead of ~13,000 in bench/ on this machine). Measured with both caps (bench/notes.md):
 * 4 MiB semi-spaces serve ~35 % more requests per CPU second than 1 MiB (fewer objects promoted,
 * fewer major GCs) for ~5 MiB more RSS; 8 MiB adds memory and no throughput.
 */
export function nodeOptions(memoryLimit: string): string {
  const heap = heapMiB(memoryLimit);
  // The hardening flag also here, not only in the image ENTRYPOINT: a mirrored or rebuilt image
  // with a plain `node` entrypoint still gets it.
  return heap === undefined
    ? NODE_HARDENING_FLAGS
    : `${NODE_HARDENING_FLAGS} --max-old-space-size=${heap} --max-semi-space-size=4`;
}

/**
 * V8 sizes its heap from the machine, not the container: without a cap a busy sidecar grows
 * until the kernel OOM-kills it. Half the limit leaves room for buffers, code and the stack.
 */
export function heapMiB(limit: string): number | undefined {
  const m = /^(\d+(?:\.\d*)?|\.\d+)([KMGTPE]i|[kMGTPE])?$/.exec(limit);
  if (m === null) return undefined;
  const scale: Record<string, number> = {
    '': 1,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
    Pi: 2 ** 50,
    Ei: 2 ** 60,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    P: 1e15,
    E: 1e18,
  };
  const bytes = Number(m[1]) * (scale[m[2] ?? ''] ?? 1);
  const mib = Math.floor(bytes / 2 ** 20 / 2);
  return mib >= 16 ? mib : undefined;
}

function probe(path: string, port: number, periodSeconds: number, failureThreshold: number): V1Probe {
  return { httpGet: { path, port, scheme: 'HTTP' }, periodSeconds, failureThreshold, timeoutSeconds: 2 };
}

/**
 * The restricted Pod Security profile for the sidecar; the chart's webhook container uses the same one
 * (charts/auth-shim/templates/_helpers.tpl, kept equal by test/chart/security-context.test.ts).
 */
export const SIDECAR_SECURITY_CONTEXT: Readonly<V1SecurityContext> = Object.freeze({
  runAsNonRoot: true,
  // `runAsNonRoot` needs a numeric user to be verifiable (distroless `nonroot`; the kubelet refuses a
  // non-numeric one, kubernetes/kubernetes pkg/kubelet/kuberuntime/security_context_others.go).
  runAsUser: NON_ROOT_UID,
  runAsGroup: NON_ROOT_UID,
  readOnlyRootFilesystem: true,
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
});

/** The sidecar container; a native sidecar is an init container with `restartPolicy: Always`. */
export function sidecarContainer(s: SidecarSettings): V1Container {
  const limits: Record<string, string> = { memory: s.memoryLimit };
  if (s.cpuLimit !== undefined) limits['cpu'] = s.cpuLimit;
  const c: V1Container = {
    name: SIDECAR_NAME,
    image: s.image,
    imagePullPolicy: s.imagePullPolicy,
    args: ['proxy'],
    env: sidecarEnv(s),
    ports: [{ name: ADMIN_PORT_NAME, containerPort: s.adminPort, protocol: 'TCP' }],
    // Holds back the app containers until credentials are loaded: a native sidecar's startup
    // probe gates the containers after it. 120 × 1 s covers a Secret created just after the pod
    // (the kubelet fills an optional volume within its sync period: kubernetes.io/docs/concepts/configuration/
    // secret/#mounted-secrets-are-updated-automatically).
    startupProbe: probe('/readyz', s.adminPort, 1, 120),
    readinessProbe: probe('/readyz', s.adminPort, 5, 2),
    livenessProbe: probe('/healthz', s.adminPort, 10, 3),
    resources: { requests: { cpu: s.cpuRequest, memory: s.memoryRequest }, limits },
    securityContext: structuredClone(SIDECAR_SECURITY_CONTEXT),
    // Directories, never `subPath`: a subPath mount never sees a rotation (kubernetes#50345).
    volumeMounts: [
      ...s.secrets.map((m) => ({
        name: m.volumeName,
        mountPath: `${SECRET_MOUNT_ROOT}/${SLOT_DIR[m.slot]}`,
        readOnly: true,
      })),
      ...(s.federation === undefined
        ? []
        : [{ name: s.federation.volumeName, mountPath: IDENTITY_TOKEN_DIR, readOnly: true }]),
      // A container that already mounts something here is skipped by the ServiceAccount admission
      // plugin (also when it runs again after this webhook): the sidecar gets no API token.
      ...(s.serviceAccountMask === undefined
        ? []
        : [{ name: s.serviceAccountMask, mountPath: SERVICE_ACCOUNT_DIR, readOnly: true }]),
    ],
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
  if (s.native) c.restartPolicy = 'Always';
  return c;
}

/**
 * One Secret volume per credential. `optional: true`: a missing Secret must not hold the pod in
 * `ContainerCreating` with a mount error; the sidecar starts, `/readyz` names the missing file,
 * the startup probe keeps the agent from starting, and the kubelet fills the volume once the
 * Secret exists.
 */
export function sidecarVolumes(s: SidecarSettings): V1Volume[] {
  const volumes: V1Volume[] = s.secrets.map((m) => ({
    name: m.volumeName,
    secret: { secretName: m.secretName, optional: true },
  }));
  // No sizeLimit: the kubelet counts the empty directory's own block (4 KiB), so the 1Ki this had evicted
  // every injected pod about a minute after it started (found by test/cluster). It is mounted read-only
  // in the sidecar only, so nothing can write to it.
  if (s.serviceAccountMask !== undefined) volumes.push({ name: s.serviceAccountMask, emptyDir: {} });
  // Its own audience, so the token is useless against the Kubernetes API; mounted in the sidecar only,
  // so no agent container holds it. The kubelet rewrites the file before it expires.
  if (s.federation !== undefined) {
    volumes.push({
      name: s.federation.volumeName,
      projected: {
        sources: [
          {
            serviceAccountToken: {
              audience: s.federation.audience,
              expirationSeconds: s.federation.expirationSeconds,
              path: IDENTITY_TOKEN_PATH,
            },
          },
        ],
      },
    });
  }
  return volumes;
}

export function baseUrl(s: Pick<SidecarSettings, 'port'>): string {
  return `http://127.0.0.1:${s.port}`;
}
