import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/cli/commands.js';
import { sidecarContainer } from '../../src/injector/sidecar.js';
import { REPO_ROOT } from '../helpers/helm.js';
import { sidecarSettings } from '../helpers/sidecar-settings.js';

/**
 * No container engine runs here, so the Dockerfile is checked as text for what the cluster relies
 * on: the entrypoint the injected sidecar and the chart's `args` complete, a numeric non-root
 * user, a distroless runtime, production dependencies only, and a build context that holds
 * everything the stages copy.
 */

interface Instruction {
  readonly op: string;
  readonly args: string;
}

async function instructions(): Promise<Instruction[]> {
  const text = (await readFile(join(REPO_ROOT, 'Dockerfile'), 'utf8')).replace(/\\\n\s*/g, ' ');
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const [op = '', ...rest] = l.split(/\s+/);
      return { op: op.toUpperCase(), args: rest.join(' ') };
    });
}

/** Instructions of the last stage (the image that ships). */
async function runtimeStage(): Promise<Instruction[]> {
  const all = await instructions();
  const lastFrom = all.map((i) => i.op).lastIndexOf('FROM');
  return all.slice(lastFrom);
}

describe('Dockerfile', () => {
  it('ends in a distroless Node 24 stage run as 65532:65532, the CLI as entrypoint, `proxy` by default', async () => {
    const all = await instructions();
    const stage = await runtimeStage();
    const runtimeArg = all.find((i) => i.op === 'ARG' && i.args.startsWith('RUNTIME_IMAGE='))?.args;
    expect(runtimeArg).toMatch(/^RUNTIME_IMAGE=gcr\.io\/distroless\/nodejs24-debian12:nonroot$/);
    expect(stage[0]).toEqual({ op: 'FROM', args: '${RUNTIME_IMAGE}' });
    expect(stage.filter((i) => i.op === 'USER').map((i) => i.args)).toEqual(['65532:65532']);
    expect(JSON.parse(stage.find((i) => i.op === 'ENTRYPOINT')?.args ?? 'null')).toEqual([
      '/nodejs/bin/node',
      '--disable-sigusr1',
      '--max-semi-space-size=4',
      '/app/dist/cli.js',
    ]);
    expect(JSON.parse(stage.find((i) => i.op === 'CMD')?.args ?? 'null')).toEqual(['proxy']);
    // No shell in the runtime image: nothing may RUN there.
    expect(stage.filter((i) => i.op === 'RUN')).toEqual([]);
  });

  it('the sidecar and the chart call subcommands the entrypoint has', async () => {
    const sidecar = sidecarContainer(sidecarSettings());
    expect(sidecar.command).toBeUndefined(); // keeps the image ENTRYPOINT
    expect(sidecar.args).toEqual(['proxy']);
    expect(Object.keys(COMMANDS)).toEqual(expect.arrayContaining(['proxy', 'webhook', 'inject']));
    expect(sidecar.securityContext?.runAsUser).toBe(65532);
  });

  it('installs production dependencies only into the runtime, as the runtime-tree test does', async () => {
    const runs = (await instructions()).filter((i) => i.op === 'RUN').map((i) => i.args);
    expect(runs).toContain('npm ci --omit=dev --ignore-scripts --no-audit --no-fund');
    expect(runs).toContain('npm run build');
    const copies = (await runtimeStage()).filter((i) => i.op === 'COPY').map((i) => i.args);
    expect(copies).toEqual([
      '--from=prod-deps --chown=0:0 /app/package.json ./package.json',
      '--from=prod-deps --chown=0:0 /app/node_modules ./node_modules',
      '--from=build --chown=0:0 /src/dist ./dist',
    ]);
  });

  it('carries the OCI labels', async () => {
    const labels = (await runtimeStage())
      .filter((i) => i.op === 'LABEL')
      .map((i) => i.args)
      .join(' ');
    for (const key of ['title', 'description', 'version', 'revision', 'licenses', 'source'])
      expect(labels).toContain(`org.opencontainers.image.${key}=`);
  });

  it('.dockerignore lets in exactly what the build stages copy from the context', async () => {
    const ignore = (await readFile(join(REPO_ROOT, '.dockerignore'), 'utf8'))
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    expect(ignore[0]).toBe('*');
    const allowed = ignore.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));
    const fromContext = (await instructions())
      .filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    expect([...new Set(fromContext)].sort()).toEqual(allowed.sort());
  });
});
