import { execFile } from 'node:child_process';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './_peers.js';

const run = promisify(execFile);

export interface Postgres {
  /** `postgresql://postgres@127.0.0.1:<port>/<db>` (trust auth, loopback only). */
  readonly url: string;
  psql(args: string[]): Promise<string>;
  stop(): Promise<void>;
}

/** Debian's PostgreSQL binaries (`apt-get install postgresql`); `initdb` and `pg_ctl` are not on PATH there. */
async function pgBin(name: string): Promise<string> {
  const { stdout } = await run('pg_config', ['--bindir']).catch(async () => ({
    stdout: (await run('sh', ['-c', 'ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1'])).stdout,
  }));
  return join(stdout.trim(), name);
}

/**
 * A throwaway PostgreSQL cluster for one test file: its own data directory and socket in a temp
 * dir, TCP on a free loopback port, trust authentication. `initdb` refuses to run as root, so the
 * server runs as the `postgres` user the Debian package creates.
 */
export async function startPostgres(database = 'litellm'): Promise<Postgres> {
  const dir = await mkdtemp(join(tmpdir(), 'pg-'));
  const { stdout: ids } = await run('id', ['-u', 'postgres']);
  const { stdout: gids } = await run('id', ['-g', 'postgres']);
  await chown(dir, Number(ids), Number(gids));
  const asPostgres = (bin: string, args: string[]) =>
    run('runuser', ['-u', 'postgres', '--', bin, ...args], { maxBuffer: 64 << 20 });
  const data = join(dir, 'data');
  await asPostgres(await pgBin('initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  const port = await freePort();
  const pgCtl = await pgBin('pg_ctl');
  await asPostgres(pgCtl, [
    '-D',
    data,
    '-l',
    join(dir, 'log'),
    '-w',
    '-t',
    '120',
    '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
    'start',
  ]);
  const admin = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  await run('psql', ['-q', '-v', 'ON_ERROR_STOP=1', admin, '-c', `CREATE DATABASE ${database}`]);
  const url = `postgresql://postgres@127.0.0.1:${port}/${database}`;
  return {
    url,
    psql: async (args) =>
      (await run('psql', ['-q', '-X', '-v', 'ON_ERROR_STOP=1', url, ...args], { maxBuffer: 64 << 20 })).stdout,
    stop: async () => {
      await asPostgres(pgCtl, ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
