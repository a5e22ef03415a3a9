import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The Debian packages the bench drives (nginx as a peer and as the fast upstream, wrk as the load). */
const TOOLS = [
  { bin: 'nginx', pkg: 'nginx', paths: ['/usr/sbin/nginx'] },
  { bin: 'wrk', pkg: 'wrk', paths: ['/usr/bin/wrk'] },
] as const;

export interface Tools {
  readonly nginx: string;
  readonly wrk: string;
  /** Packages this run installed (empty when they were already there). */
  readonly installed: string[];
}

async function which(bin: string, extra: readonly string[]): Promise<string | undefined> {
  try {
    const { stdout } = await run('sh', ['-c', `command -v ${bin}`]);
    if (stdout.trim() !== '') return stdout.trim();
  } catch {
    // not on PATH (sbin is often missing from a non-root PATH)
  }
  for (const p of extra) {
    try {
      await run(p, ['-v']);
      return p;
    } catch (err) {
      // nginx -v exits 0; wrk -v exits 1 but prints its version: it exists if it ran at all
      if ((err as { code?: unknown }).code !== 'ENOENT') return p;
    }
  }
  return undefined;
}

/**
 * Finds nginx and wrk, installing them from Debian's packages when missing (apt-get as root, or
 * through `sudo -n`). Throws a message that says what to run when neither is possible.
 */
export async function ensureTools(log: (line: string) => void): Promise<Tools> {
  const found = new Map<string, string>();
  const missing: string[] = [];
  for (const t of TOOLS) {
    const path = await which(t.bin, t.paths);
    if (path === undefined) missing.push(t.pkg);
    else found.set(t.bin, path);
  }
  if (missing.length > 0) {
    const root = process.getuid?.() === 0;
    const prefix = root ? [] : ['sudo', '-n'];
    log(`installing ${missing.join(' ')} from Debian's packages (apt-get${root ? '' : ' via sudo -n'}) …`);
    const apt = async (args: string[]): Promise<void> => {
      const [cmd, ...rest] = [...prefix, 'apt-get', ...args];
      await run(cmd as string, rest, {
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
        maxBuffer: 64 << 20,
        timeout: 600_000,
      });
    };
    try {
      await apt(['update', '-qq']);
      await apt(['install', '-y', '-qq', '--no-install-recommends', ...missing]);
    } catch (err) {
      throw new Error(
        `the bench needs ${missing.join(' and ')} and could not install ${missing.length > 1 ? 'them' : 'it'} ` +
          `(${(err as Error).message.split('\n')[0]}). Install by hand: apt-get install -y ${missing.join(' ')}`,
      );
    }
    for (const t of TOOLS) {
      if (found.has(t.bin)) continue;
      const path = await which(t.bin, t.paths);
      if (path === undefined) throw new Error(`apt-get installed ${t.pkg} but ${t.bin} is still not found`);
      found.set(t.bin, path);
    }
  }
  return { nginx: found.get('nginx') as string, wrk: found.get('wrk') as string, installed: missing };
}

/** `nginx -v` prints to stderr: "nginx version: nginx/1.22.1". */
export async function nginxVersion(nginx: string): Promise<string> {
  const { stderr } = await run(nginx, ['-v']);
  return stderr.trim().replace(/^nginx version:\s*/, '');
}

export async function wrkVersion(wrk: string): Promise<string> {
  try {
    const { stdout } = await run(wrk, ['-v']);
    return stdout.split('\n')[0]?.trim() ?? '';
  } catch (err) {
    return (
      String((err as { stdout?: string }).stdout ?? '')
        .split('\n')[0]
        ?.trim() ?? ''
    );
  }
}
