import type { ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawnOwned, stopChild, waitReady } from './proc.js';
import { OAUTH_BETA, RESPONSE_JSON } from './traffic.js';

/*
 * nginx runs twice, both as the bench's own processes (`-p <dir>`, `daemon off`, `master_process
 * off`, logs and temp files in <dir>, loopback only): once as the fast fake upstream, once as the
 * peer doing auth-shim's header rewrite. One worker each: auth-shim is one Node.js process (one
 * thread of JavaScript), so one nginx worker is the like-for-like comparison.
 */

export interface Nginx {
  readonly url: string;
  readonly child: ChildProcess;
  readonly dir: string;
  stop(): Promise<void>;
}

function common(dir: string): string {
  return `daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile 16384;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 8192; multi_accept on; }
`;
}

function httpCommon(dir: string): string {
  return `  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  # nginx closes a keep-alive connection after 1,000 requests by default; a proxy's pool would
  # then pay a reconnect every 1,000 requests, which is not what a real LiteLLM does.
  keepalive_requests 100000000;
  keepalive_timeout 75s;
`;
}

/**
 * The fast upstream: a fixed JSON message for every request (nginx answers it without reading
 * more than it must), and requests marked `x-bench-stream` handed to the SSE fake unbuffered.
 */
export function upstreamConfig(dir: string, port: number, ssePort: number): string {
  return `${common(dir)}http {
${httpCommon(dir)}  upstream sse { server 127.0.0.1:${ssePort}; keepalive 64; keepalive_requests 100000000; }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location = /readyz { return 200 "ready\\n"; }
    location /__sse {
      internal;
      proxy_pass http://sse;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_read_timeout 600s;
    }
    location / {
      if ($http_x_bench_stream) { rewrite ^ /__sse last; }
      default_type application/json;
      add_header request-id req_01benchbenchbenchbench;
      return 200 '${RESPONSE_JSON}';
    }
  }
}
`;
}

/**
 * nginx as the user's alternative to auth-shim: the same rewrite for the case the bench sends
 * (an OAuth token in \`x-api-key\` → \`Authorization: Bearer\`, the oauth beta merged once,
 * \`x-litellm-api-key\` added), keep-alive upstream, no buffering either way (SSE). It does
 * not decide by prefix, strip \`Connection\`-listed or \`x-pass-*\` headers, or fail closed.
 */
export function proxyConfig(dir: string, port: number, upstreamPort: number, litellmKey: string): string {
  return `${common(dir)}http {
${httpCommon(dir)}  map $http_x_api_key $shim_authorization {
    "" $http_authorization;
    default "Bearer $http_x_api_key";
  }
  map $http_anthropic_beta $shim_beta {
    "" "${OAUTH_BETA}";
    "~${OAUTH_BETA}" $http_anthropic_beta;
    default "$http_anthropic_beta,${OAUTH_BETA}";
  }
  upstream litellm {
    server 127.0.0.1:${upstreamPort};
    keepalive 128;
    keepalive_requests 100000000;
    keepalive_timeout 75s;
  }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location = /readyz { return 200 "ready\\n"; }
    location / {
      proxy_pass http://litellm;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host 127.0.0.1:${upstreamPort};
      proxy_set_header Authorization $shim_authorization;
      proxy_set_header X-Api-Key "";
      proxy_set_header anthropic-beta $shim_beta;
      proxy_set_header x-litellm-api-key "${litellmKey}";
      proxy_set_header x-pass-authorization "";
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 600s;
    }
  }
}
`;
}

/** Writes the config into `dir` and starts nginx; resolves once `/readyz` answers 200. */
export async function startNginx(
  bin: string,
  dir: string,
  conf: string,
  port: number,
): Promise<Nginx & { readyMs: number }> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'nginx.conf');
  await writeFile(file, conf);
  const t0 = performance.now();
  const child = spawnOwned(bin, ['-p', dir, '-c', file, '-e', join(dir, 'error.log')], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  const readyMs = await waitReady(`${url}/readyz`, t0, { child, what: 'nginx', timeoutMs: 10_000 });
  return { url, child, dir, readyMs, stop: () => stopChild(child) };
}
