import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import * as k8s from '@kubernetes/client-node';
import { Pod } from 'kubernetes-models/v1/Pod';
import { expect } from 'vitest';
import { loadInjectorConfig, type InjectorConfig } from '../../src/injector/config.js';
import { request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { generateCa, issueServingCert, type CertBundle } from '../../src/injector/certs.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { fileCertSource } from '../../src/injector/tls.js';
import { startWebhook, type RunningWebhook } from '../../src/injector/webhook-server.js';
import { writeKubeletSecret } from '../helpers/kubelet-dir.js';

/** The injector configuration every golden file was produced with. */
export const GOLDEN_ENV = {
  AUTH_SHIM_SIDECAR_IMAGE: 'ghcr.io/example/auth-shim:0.1.0',
  AUTH_SHIM_NAMESPACE: 'auth-shim-system',
  AUTH_SHIM_DEFAULT_UPSTREAM_URL: 'http://litellm.ai.svc:4000/anthropic',
  AUTH_SHIM_OAUTH_TOKEN_SECRET: 'claude-oauth',
  AUTH_SHIM_LITELLM_KEY_SECRET: 'litellm-virtual-key',
};

/** In-memory stdin/stdout/stderr for `runInject`, with the golden environment. */
export function cliIo(stdin = '') {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (c: Buffer) => (stdout += c.toString()));
  err.on('data', (c: Buffer) => (stderr += c.toString()));
  const input = new PassThrough();
  input.end(stdin);
  const env: NodeJS.ProcessEnv = { ...GOLDEN_ENV };
  return { io: { stdin: input, stdout: out, stderr: err, env }, result: () => ({ stdout, stderr }) };
}

export function goldenConfig(extra: Record<string, string> = {}): InjectorConfig {
  return loadInjectorConfig({ ...GOLDEN_ENV, ...extra }, []).config;
}

export { expectGolden } from '../helpers/golden.js';

type AttributeMap = { name: string; baseName: string; type: string }[];

/**
 * kubernetes-models' `validate()` checks types and required fields but accepts unknown fields
 * (its schemas do not set `additionalProperties: false`), so a misspelt field would pass. The
 * generated models of @kubernetes/client-node list every field of every type: walk them too.
 */
export function unknownFields(value: unknown, type: string, at = ''): string[] {
  const model = (k8s as unknown as Record<string, { getAttributeTypeMap?: () => AttributeMap }>)[type];
  if (model?.getAttributeTypeMap === undefined || typeof value !== 'object' || value === null) return [];
  const attrs = new Map(model.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  const out: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    const t = attrs.get(k);
    if (t === undefined) {
      out.push(`${at}/${k}`);
      continue;
    }
    const arr = /^Array<(.+)>$/.exec(t);
    if (arr !== null && Array.isArray(v))
      v.forEach((item, i) => out.push(...unknownFields(item, arr[1] as string, `${at}/${k}/${i}`)));
    else out.push(...unknownFields(v, t, `${at}/${k}`));
  }
  return out;
}

/** Validates a pod against the Kubernetes schema of two maintained packages; throws with the reason. */
export function validatePod(pod: unknown): void {
  new Pod(pod as ConstructorParameters<typeof Pod>[0]).validate();
  expect(unknownFields(pod, 'V1Pod')).toEqual([]);
}

export const SERVICE_NAME = 'auth-shim-webhook.auth-shim-system.svc';

export async function makeBundle(names: readonly string[] = [SERVICE_NAME]): Promise<CertBundle> {
  return issueServingCert(await generateCa(), names);
}

export { writeKubeletSecret };

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

export interface HttpsReply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  readonly peerCertificate: string;
}

/** A real HTTPS client that trusts only `ca` and sends the Service's name as SNI, like the API server. */
export function httpsCall(
  url: string,
  opts: { ca: string; method?: string; path: string; body?: string | Buffer; headers?: Record<string, string> },
): Promise<HttpsReply> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: u.hostname,
        port: u.port,
        method: opts.method ?? 'POST',
        path: opts.path,
        ca: opts.ca,
        servername: SERVICE_NAME,
        agent: false,
        headers: { 'content-type': 'application/json', ...opts.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const socket = res.socket as TLSSocket;
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            peerCertificate: socket.getPeerCertificate?.().fingerprint256 ?? '',
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

export function quietLogger() {
  return createLogger('silent');
}

/** A real webhook over TLS on 127.0.0.1:0 with a fresh CA, its certificate in a kubelet-style directory. */
export async function startTlsWebhook(
  injector: InjectorConfig,
  limits: { requestTimeoutMs?: number; maxBodyBytes?: number } = {},
): Promise<{ server: RunningWebhook; ca: string; close(): Promise<void> }> {
  const bundle = await makeBundle();
  const dir = await mkdtemp(join(tmpdir(), 'auth-shim-webhook-'));
  await writeKubeletSecret(dir, { 'tls.crt': bundle.cert, 'tls.key': bundle.key });
  const server = await startWebhook({
    injector,
    listen: { host: '127.0.0.1', port: 0 },
    adminListen: { host: '127.0.0.1', port: 0 },
    maxBodyBytes: limits.maxBodyBytes ?? 1024 * 1024,
    requestTimeoutMs: limits.requestTimeoutMs ?? 5000,
    drainTimeoutMs: 1000,
    certs: fileCertSource({ certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key'), intervalMs: 60_000 }),
    log: quietLogger(),
    defaultMetrics: false,
  });
  return {
    server,
    ca: bundle.caCert,
    async close() {
      await server.shutdown();
      await removeDir(dir);
    },
  };
}
