/**
 * The cluster's images, built locally with podman (no registry is reachable) and loaded into
 * containerd. Base images, the agent image, CoreDNS and pause are cached in podman's store under a
 * content hash of their inputs; `localhost/auth-shim:e2e` is rebuilt from the current checkout on
 * every `up` (podman's layer cache makes an unchanged tree cost seconds), so each checkout tests its
 * own code.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { run } from '../../controlplane/cluster.js';
import { CLAUDE_CODE } from '../../e2e/_peers.js';
import { CONTAINERD_SOCK, DOWNLOADS_DIR, IMAGES, INFRA_DIR, NPM_VERSION, REPO_ROOT, STATE_DIR } from './config.js';

const IMAGES_DIR = join(INFRA_DIR, 'images');
const PODMAN_ENV = { ...process.env, CONTAINERS_CONF: join(IMAGES_DIR, 'containers.conf') };
const IMPORTED_DIR = join(STATE_DIR, 'imported');

async function must(
  cmd: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<string> {
  const r = await run(cmd, args, { env: opts.env ?? PODMAN_ENV, ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}) });
  if (r.code !== 0)
    throw new Error(
      `${cmd} ${args.join(' ')} exited ${r.code}:\n${(r.stdout + r.stderr).trim().split('\n').slice(-30).join('\n')}`,
    );
  return r.stdout;
}

async function podmanHas(tag: string): Promise<boolean> {
  return (await run('podman', ['image', 'exists', tag], { env: PODMAN_ENV })).code === 0;
}

function hash(...parts: (string | Buffer)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex').slice(0, 12);
}

/** The npm `node` package's binary (the devDependency every npm script runs). */
function nodeBinary(): { bin: string; version: string } {
  const bin = join(REPO_ROOT, 'node_modules', 'node', 'bin', 'node');
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`npm ci\` first`);
  const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules', 'node', 'package.json'), 'utf8')) as {
    version: string;
  };
  return { bin, version };
}

export interface Bases {
  readonly build: string;
  readonly runtime: string;
  readonly built: boolean;
}

/** The Dockerfile's BUILD_IMAGE and RUNTIME_IMAGE stand-ins (images/base.sh), cached by their inputs. */
export async function baseImages(): Promise<Bases> {
  const node = nodeBinary();
  const script = join(IMAGES_DIR, 'base.sh');
  const h = hash(
    readFileSync(script),
    node.version,
    NPM_VERSION,
    readFileSync('/etc/ssl/certs/ca-certificates.crt'),
    readFileSync('/etc/os-release'),
  );
  const build = `localhost/auth-shim-build-base:${h}`;
  const runtime = `localhost/auth-shim-runtime-base:${h}`;
  if ((await podmanHas(build)) && (await podmanHas(runtime))) return { build, runtime, built: false };
  await must('bash', [script], {
    env: {
      ...PODMAN_ENV,
      NODE_BIN: node.bin,
      NPM_VERSION,
      BUILD_TAG: build,
      RUNTIME_TAG: runtime,
      DL_DIR: DOWNLOADS_DIR,
    },
  });
  return { build, runtime, built: true };
}

/** `localhost/auth-shim:e2e` from the repository's Dockerfile, unchanged, on the local base images. */
export async function shimImage(bases: Bases): Promise<void> {
  const revision = (await run('git', ['rev-parse', 'HEAD'], { cwd: REPO_ROOT })).stdout.trim() || 'unknown';
  await must('podman', [
    'build',
    '--network',
    'host',
    '--layers',
    '--build-arg',
    `BUILD_IMAGE=${bases.build}`,
    '--build-arg',
    `RUNTIME_IMAGE=${bases.runtime}`,
    '--build-arg',
    `REVISION=${revision}`,
    '-f',
    join(REPO_ROOT, 'Dockerfile'),
    '-t',
    IMAGES.shim,
    REPO_ROOT,
  ]);
}

async function labelOf(tag: string, label: string): Promise<string | undefined> {
  const r = await run('podman', ['image', 'inspect', '--format', `{{ index .Labels "${label}" }}`, tag], {
    env: PODMAN_ENV,
  });
  return r.code === 0 ? r.stdout.trim() : undefined;
}

/** `localhost/agent:e2e`: Node 24, the pinned Claude Code CLI and the SDK version this repository tests. */
export async function agentImage(bases: Bases): Promise<boolean> {
  const file = join(IMAGES_DIR, 'agent.Containerfile');
  const sdk = (
    JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules', '@anthropic-ai', 'sdk', 'package.json'), 'utf8')) as {
      version: string;
    }
  ).version;
  const inputs = hash(readFileSync(file), bases.build, CLAUDE_CODE, sdk);
  if ((await labelOf(IMAGES.agent, 'auth-shim.inputs')) === inputs) return false;
  await must('podman', [
    'build',
    '--network',
    'host',
    '--layers',
    '--build-arg',
    `BASE=${bases.build}`,
    '--build-arg',
    `CLAUDE_CODE=${CLAUDE_CODE}`,
    '--build-arg',
    `ANTHROPIC_SDK=${sdk}`,
    '--label',
    `auth-shim.inputs=${inputs}`,
    '-f',
    file,
    '-t',
    IMAGES.agent,
    IMAGES_DIR,
  ]);
  return true;
}

/** An image holding one static binary FROM scratch (CoreDNS, pause), tagged by the binary's hash. */
export async function binaryImage(tag: string, binary: string, user: string): Promise<boolean> {
  const inputs = hash(readFileSync(binary), user);
  if ((await labelOf(tag, 'auth-shim.inputs')) === inputs) return false;
  await mkdir(STATE_DIR, { recursive: true });
  const dir = await mkdtemp(join(STATE_DIR, 'img-'));
  try {
    const name = basename(tag.split(':')[0] ?? 'bin');
    await must('cp', [binary, join(dir, name)]);
    await writeFile(
      join(dir, 'Containerfile'),
      `FROM scratch\nCOPY ${name} /${name}\nUSER ${user}\nENTRYPOINT ["/${name}"]\nLABEL auth-shim.inputs=${inputs}\n`,
    );
    await must('podman', ['build', '--network', 'none', '-f', join(dir, 'Containerfile'), '-t', tag, dir]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return true;
}

export function ctr(args: readonly string[]): Promise<string> {
  return must('ctr', ['--address', CONTAINERD_SOCK, '--namespace', 'k8s.io', ...args], { env: process.env });
}

/**
 * Loads an image into containerd's k8s.io namespace unless the same podman image is already there.
 * `ctr import` unpacks it for the overlayfs snapshotter, which the CRI needs (a packed image
 * leaves the kubelet reporting it missing).
 */
export async function importImage(tag: string): Promise<boolean> {
  const id = (await must('podman', ['image', 'inspect', '--format', '{{.Id}}', tag])).trim();
  const stamp = join(IMPORTED_DIR, tag.replace(/[/:]/g, '_'));
  const present = (await ctr(['images', 'list', '--quiet', `name==${tag}`])).trim() === tag;
  if (present && existsSync(stamp) && readFileSync(stamp, 'utf8') === id) return false;
  await mkdir(IMPORTED_DIR, { recursive: true });
  const archive = join(IMPORTED_DIR, 'import.tar');
  try {
    await must('podman', ['save', '--quiet', '--format', 'docker-archive', '-o', archive, tag]);
    await ctr(['images', 'import', archive]);
  } finally {
    await rm(archive, { force: true });
  }
  await mkdir(dirname(stamp), { recursive: true });
  await writeFile(stamp, id);
  return true;
}

/** Size of an image as podman reports it (for the report and docs/PERFORMANCE.md). */
export async function imageSize(tag: string): Promise<string> {
  return (await must('podman', ['image', 'list', '--format', '{{.Size}}', '--filter', `reference=${tag}`])).trim();
}
