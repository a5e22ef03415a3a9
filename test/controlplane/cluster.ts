/**
 * A real Kubernetes control plane on loopback for the tests: etcd (Debian's `etcd-server`) and a
 * kube-apiserver built from the Go module proxy by build-apiserver.sh. No kubelet, scheduler or
 * controller-manager: what is tested is what the API server itself does — defaulting, validation,
 * admission (webhooks, ServiceAccount, Pod Security), RBAC, watches.
 *
 * Only Node built-ins and `openssl`, so it also runs directly under Node 24 (type stripping) as the
 * developer's script: `node test/controlplane/cluster.ts up|down|env`.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { appendFileSync, closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(HERE, '../..');
const BUILD_SCRIPT = join(HERE, 'build-apiserver.sh');

/** The Kubernetes version the wrapper module pins (one place to change it: apiserver/go.mod). */
export function kubernetesVersion(): string {
  const mod = readFileSync(join(HERE, 'apiserver', 'go.mod'), 'utf8');
  const m = /^\s*k8s\.io\/kubernetes (v1\.\d+\.\d+)/m.exec(mod);
  if (m?.[1] === undefined)
    throw new Error('test/controlplane/apiserver/go.mod does not require k8s.io/kubernetes v1.x');
  return m[1];
}

/**
 * Outside the checkout, so a fresh clone on the same machine (CI's) reuses the build; the same
 * default as build-apiserver.sh.
 */
export function cacheDir(): string {
  return (
    process.env['AUTH_SHIM_CONTROLPLANE_CACHE'] ??
    join(process.env['AUTH_SHIM_CACHE'] ?? join(homedir(), '.cache', 'auth-shim'), 'controlplane')
  );
}

/**
 * The prebuilt kube-apiserver. Missing is a failure, not a skip: a suite that silently skips its
 * only real API server would pass on every machine that lacks one.
 */
export function apiserverBinary(): string {
  const bin = process.env['KUBE_APISERVER'] ?? join(cacheDir(), 'bin', `kube-apiserver-${kubernetesVersion()}`);
  if (!existsSync(bin)) {
    throw new Error(
      `kube-apiserver ${kubernetesVersion()} is not built (${bin}). Run \`bash test/controlplane/prepare.sh\` ` +
        '(installs etcd, builds kube-apiserver and kube-controller-manager with Go: ~6 min cold; ' +
        '.ci/run does this before `npm test`).',
    );
  }
  return bin;
}

/** kube-controller-manager, built next to the API server (Deployments and Jobs need their controllers). */
export function controllerManagerBinary(): string {
  return apiserverBinary().replace(
    /kube-apiserver(-v[^/]*)?$/,
    (_m, v: string | undefined) => `kube-controller-manager${v ?? ''}`,
  );
}

export function etcdBinary(): string {
  const candidates = [process.env['ETCD'], '/usr/bin/etcd', '/usr/local/bin/etcd'].filter(
    (p): p is string => p !== undefined,
  );
  const bin = candidates.find((p) => existsSync(p));
  if (bin === undefined)
    throw new Error(
      'etcd is not installed: `bash test/controlplane/prepare.sh` (Debian `etcd-server`), or set ETCD=/path/to/etcd',
    );
  return bin;
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() =>
        typeof addr === 'object' && addr !== null ? resolvePort(addr.port) : reject(new Error('no port')),
      );
    });
  });
}

export function run(
  cmd: string,
  args: readonly string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolveRun, reject) => {
    const child = execFile(
      cmd,
      args,
      { env: opts.env ?? process.env, cwd: opts.cwd, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
      (err, stdout, stderr) => {
        const code =
          err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1;
        if (code === -1 && err !== null) reject(err);
        else resolveRun({ code, stdout, stderr });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

async function openssl(args: readonly string[], cwd: string): Promise<void> {
  const r = await run('openssl', args, { cwd });
  if (r.code !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

/**
 * A CA, an API server certificate (for 127.0.0.1/localhost unless `apiserverSans` says otherwise),
 * a service-account key pair, and the admin's token in `tokens.csv`.
 */
export async function makeCredentials(
  dir: string,
  apiserverSans: readonly string[] = ['IP:127.0.0.1', 'DNS:localhost', 'DNS:kubernetes.default.svc'],
): Promise<{ token: string }> {
  await openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '30',
      '-subj',
      '/CN=auth-shim-test-ca',
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
    ],
    dir,
  );
  await issueTestCert(dir, 'apiserver', apiserverSans);
  const sa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  await writeFile(join(dir, 'sa.key'), sa.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  await writeFile(join(dir, 'sa.pub'), sa.publicKey.export({ type: 'spki', format: 'pem' }));
  const token = randomBytes(24).toString('hex');
  // Static token of a system:masters member: the admin. Tests make narrower identities with RBAC.
  await writeFile(join(dir, 'tokens.csv'), `${token},auth-shim-test-admin,auth-shim-test-admin,"system:masters"\n`);
  return { token };
}

/**
 * Issues `<name>.crt`/`<name>.key` in `dir`, signed by `dir/ca.crt`: a serving certificate for the
 * given subjectAltNames, or with `client` a client certificate for `subject` (e.g. `/CN=x/O=system:masters`).
 */
export async function issueTestCert(
  dir: string,
  name: string,
  sans: readonly string[],
  client?: { subject: string },
): Promise<{ cert: string; key: string }> {
  const ext =
    client === undefined
      ? `subjectAltName=${sans.join(',')}\nextendedKeyUsage=serverAuth\n`
      : 'extendedKeyUsage=clientAuth\n';
  await writeFile(
    join(dir, `${name}.ext`),
    `${ext}basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n`,
  );
  await openssl(
    [
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-subj',
      client?.subject ?? `/CN=${name}`,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
    ],
    dir,
  );
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '30',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.crt`,
    ],
    dir,
  );
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

export function kubeconfigYaml(server: string, caFile: string, user: { token: string }, namespace = 'default'): string {
  // JSON is YAML; kubectl, helm and @kubernetes/client-node all read it.
  return JSON.stringify(
    {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'auth-shim-test', cluster: { server, 'certificate-authority': caFile } }],
      users: [{ name: 'user', user: { token: user.token } }],
      contexts: [{ name: 'test', context: { cluster: 'auth-shim-test', user: 'user', namespace } }],
      'current-context': 'test',
    },
    null,
    2,
  );
}

export interface Proc {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
}

export function startProc(
  bin: string,
  args: readonly string[],
  logFile: string,
  detached: boolean,
  env: NodeJS.ProcessEnv = process.env,
): Proc {
  // Output goes to a file, not a pipe: a pipe nobody drains would stall the process, and the log is
  // what a developer reads when start-up fails.
  const fd = openSync(logFile, 'a');
  const child = spawn(bin, args, { stdio: ['ignore', fd, fd], detached, env });
  closeSync(fd); // the child has its own copy
  const exited = new Promise<void>((r) => {
    child.on('exit', () => r());
    // A binary that cannot be started (removed meanwhile, wrong architecture) ends here, and the
    // /readyz loop then fails with the log tail instead of an unhandled 'error' event.
    child.on('error', (err) => {
      appendFileSync(logFile, `spawn ${bin}: ${err.message}\n`);
      r();
    });
  });
  if (detached) child.unref();
  return { child, exited };
}

export async function stopProc(p: Proc | undefined, graceMs = 10_000): Promise<void> {
  if (p === undefined || p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
  await p.exited;
  clearTimeout(timer);
}

function get(url: string, caFile: string, token: string): Promise<{ status: number; body: string }> {
  return new Promise((resolveGet) => {
    const req = httpsRequest(
      url,
      { ca: readFileSync(caFile), headers: { authorization: `Bearer ${token}` }, timeout: 2000, agent: false },
      (res) => {
        let body = '';
        res
          .setEncoding('utf8')
          .on('data', (c: string) => (body += c))
          .on('end', () => resolveGet({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolveGet({ status: 0, body: err.message }));
    req.end();
  });
}

export interface ControlPlane {
  readonly dir: string;
  /** https://127.0.0.1:<port> */
  readonly server: string;
  readonly caFile: string;
  /** The admin's bearer token (system:masters). */
  readonly token: string;
  /** Admin kubeconfig, for kubectl, helm and @kubernetes/client-node. */
  readonly kubeconfig: string;
  /** How long the first start took to /readyz = 200, in ms. */
  readonly startMs: number;
  /** `kubectl --kubeconfig <admin> …`; never throws on a non-zero exit. */
  kubectl(args: readonly string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Like kubectl, but throws with stderr on a non-zero exit and returns stdout. */
  kubectlOk(args: readonly string[], input?: string): Promise<string>;
  /** Writes a kubeconfig for another identity (e.g. a ServiceAccount token) and returns its path. */
  writeKubeconfig(name: string, user: { token: string }, namespace?: string): Promise<string>;
  stopApiserver(): Promise<void>;
  startApiserver(): Promise<void>;
  stop(): Promise<void>;
}

export interface ControlPlaneOptions {
  /** Keep processes running after this process exits (the `up` command). */
  readonly detached?: boolean;
  readonly dir?: string;
  readonly readyTimeoutMs?: number;
  /**
   * Also run kube-controller-manager with these controllers (e.g. deployment, replicaset, job,
   * serviceaccount), so Pods are created by the controllers that create them in a real cluster.
   */
  readonly controllers?: readonly string[];
}

/** Starts etcd and kube-apiserver on free loopback ports and waits for /readyz. */
export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const apiserver = apiserverBinary();
  const etcd = etcdBinary();
  const controllerManager = opts.controllers === undefined ? undefined : controllerManagerBinary();
  if (controllerManager !== undefined && !existsSync(controllerManager))
    throw new Error(`${controllerManager} is not built: run \`bash test/controlplane/prepare.sh\``);
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'auth-shim-controlplane-')));
  await mkdir(dir, { recursive: true });
  const detached = opts.detached ?? false;
  const readyTimeoutMs = opts.readyTimeoutMs ?? 90_000;
  const { token } = await makeCredentials(dir);
  const caFile = join(dir, 'ca.crt');
  const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const server = `https://127.0.0.1:${apiPort}`;
  const kubeconfig = join(dir, 'kubeconfig');
  await writeFile(kubeconfig, kubeconfigYaml(server, caFile, { token }));

  const t0 = Date.now();
  let etcdProc: Proc | undefined = startProc(
    etcd,
    [
      '--name=auth-shim-test',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=auth-shim-test=http://127.0.0.1:${peerPort}`,
      '--logger=zap',
      '--log-level=warn',
    ],
    join(dir, 'etcd.log'),
    detached,
  );

  const apiArgs = [
    `--etcd-servers=http://127.0.0.1:${etcdPort}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${apiPort}`,
    `--tls-cert-file=${join(dir, 'apiserver.crt')}`,
    `--tls-private-key-file=${join(dir, 'apiserver.key')}`,
    `--client-ca-file=${caFile}`,
    `--token-auth-file=${join(dir, 'tokens.csv')}`,
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${join(dir, 'sa.pub')}`,
    `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
    '--service-cluster-ip-range=10.96.0.0/16',
    '--authorization-mode=Node,RBAC',
    // The default admission chain (incl. ServiceAccount, PodSecurity, MutatingAdmissionWebhook,
    // ValidatingAdmissionWebhook) is what a real cluster runs; nothing is added or removed.
    // No controller keeps the `kubernetes` Service's endpoints pointing at a real node address.
    '--endpoint-reconciler-type=none',
    '--profiling=false',
    '--v=1',
  ];
  let apiProc: Proc | undefined;
  let kcmProc: Proc | undefined;
  const log = join(dir, 'kube-apiserver.log');

  async function startApiserver(): Promise<void> {
    apiProc = startProc(apiserver, apiArgs, log, detached);
    const until = Date.now() + readyTimeoutMs;
    for (;;) {
      const r = await get(`${server}/readyz`, caFile, token);
      if (r.status === 200) return;
      if (apiProc.child.exitCode !== null || apiProc.child.signalCode !== null || Date.now() > until) {
        const tail = (await readFile(log, 'utf8').catch(() => '')).split('\n').slice(-30).join('\n');
        await stopAll();
        throw new Error(
          `kube-apiserver did not become ready (last /readyz: ${r.status} ${r.body.slice(0, 500)}); log tail:\n${tail}`,
        );
      }
      await new Promise((r2) => setTimeout(r2, 200));
    }
  }

  async function stopAll(): Promise<void> {
    await stopProc(kcmProc);
    kcmProc = undefined;
    await stopProc(apiProc);
    apiProc = undefined;
    await stopProc(etcdProc);
    etcdProc = undefined;
  }

  // A crashed or interrupted test run must not leave servers behind (the processes share no pipe
  // with us, so nothing else would end them).
  const onExit = () => {
    for (const p of [kcmProc, apiProc, etcdProc])
      if (p !== undefined && p.child.exitCode === null) p.child.kill('SIGKILL');
  };
  if (!detached) process.once('exit', onExit);

  await startApiserver();
  const startMs = Date.now() - t0;
  if (controllerManager !== undefined && opts.controllers !== undefined) {
    kcmProc = startProc(
      controllerManager,
      [
        `--kubeconfig=${kubeconfig}`,
        `--controllers=${opts.controllers.join(',')}`,
        '--leader-elect=false',
        // Its own HTTPS endpoint (metrics, healthz) is not needed; 0 turns it off.
        '--secure-port=0',
        '--use-service-account-credentials=false',
        `--root-ca-file=${caFile}`,
        `--service-account-private-key-file=${join(dir, 'sa.key')}`,
        '--concurrent-deployment-syncs=2',
        '--v=1',
      ],
      join(dir, 'kube-controller-manager.log'),
      detached,
    );
  }

  const kubectlEnv = { ...process.env, KUBECONFIG: kubeconfig };
  const kubectl = (args: readonly string[], input?: string) =>
    run('kubectl', ['--kubeconfig', kubeconfig, ...args], {
      env: kubectlEnv,
      ...(input !== undefined ? { input } : {}),
    });

  if (detached) {
    await writeFile(
      join(dir, 'state.json'),
      JSON.stringify(
        {
          server,
          kubeconfig,
          pids: {
            apiserver: apiProc?.child.pid,
            etcd: etcdProc.child.pid,
            ...(kcmProc !== undefined ? { controllerManager: kcmProc.child.pid } : {}),
          },
        },
        null,
        2,
      ),
    );
  }

  return {
    dir,
    server,
    caFile,
    token,
    kubeconfig,
    startMs,
    kubectl,
    async kubectlOk(args, input) {
      const r = await kubectl(args, input);
      if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
      return r.stdout;
    },
    async writeKubeconfig(name, user, namespace) {
      const file = join(dir, `kubeconfig-${name}`);
      await writeFile(file, kubeconfigYaml(server, caFile, user, namespace));
      return file;
    },
    async stopApiserver() {
      await stopProc(apiProc);
      apiProc = undefined;
    },
    startApiserver,
    async stop() {
      await stopAll();
      process.removeListener('exit', onExit);
      if (opts.dir === undefined && process.env['AUTH_SHIM_KEEP_CONTROLPLANE'] !== '1')
        await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Creates a namespace and its `default` ServiceAccount (the job of the controller-manager, absent here). */
export async function createNamespace(
  cp: ControlPlane,
  name: string,
  labels: Record<string, string> = {},
): Promise<void> {
  const ns = { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } };
  const sa = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: name } };
  await cp.kubectlOk(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [ns] }));
  await cp.kubectlOk(['apply', '-f', '-'], JSON.stringify(sa));
}

/** Controllers the admission tests need: Pods from Deployments and Jobs, and default ServiceAccounts. */
export const DEFAULT_CONTROLLERS = ['serviceaccount', 'deployment', 'replicaset', 'job'] as const;

/** The state of a control plane started by `up`, read by `down` and `env`. */
const STATE_DIR = join(tmpdir(), 'auth-shim-controlplane');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function cli(cmd: string | undefined): Promise<number> {
  if (cmd === 'build') {
    const r = spawn('bash', [BUILD_SCRIPT], { stdio: 'inherit' });
    return new Promise((r2) => r.on('exit', (c) => r2(c ?? 1)));
  }
  if (cmd === 'up') {
    if (existsSync(join(STATE_DIR, 'state.json'))) {
      const s = JSON.parse(readFileSync(join(STATE_DIR, 'state.json'), 'utf8')) as {
        kubeconfig: string;
        pids: Record<string, number>;
      };
      if (Object.values(s.pids).every(alive)) {
        process.stdout.write(`${s.kubeconfig}\n`);
        return 0;
      }
      await down();
    }
    await rm(STATE_DIR, { recursive: true, force: true });
    const cp = await startControlPlane({ detached: true, dir: STATE_DIR, controllers: DEFAULT_CONTROLLERS });
    process.stderr.write(
      `control plane ready in ${cp.startMs} ms: ${cp.server} (logs in ${STATE_DIR}); ` +
        'stop it with `node test/controlplane/cluster.ts down`\n',
    );
    process.stdout.write(`${cp.kubeconfig}\n`);
    return 0;
  }
  if (cmd === 'down') {
    await down();
    return 0;
  }
  if (cmd === 'env') {
    process.stdout.write(`export KUBECONFIG=${join(STATE_DIR, 'kubeconfig')}\n`);
    return 0;
  }
  process.stderr.write('usage: node test/controlplane/cluster.ts build|up|down|env\n');
  return 2;
}

async function down(): Promise<void> {
  const file = join(STATE_DIR, 'state.json');
  if (!existsSync(file)) return;
  const s = JSON.parse(readFileSync(file, 'utf8')) as { pids: Record<string, number> };
  // API server first, so it does not log etcd errors on its way out. Each was started in its own
  // process group (detached), so the group is what is signalled.
  for (const pid of [s.pids['controllerManager'], s.pids['apiserver'], s.pids['etcd']]) {
    if (pid === undefined || !alive(pid)) continue;
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
    const until = Date.now() + 10_000;
    while (alive(pid) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    if (alive(pid)) process.kill(-pid, 'SIGKILL');
  }
  writeFileSync(file, '{"pids":{}}');
  await rm(STATE_DIR, { recursive: true, force: true });
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await cli(process.argv[2]);
}
