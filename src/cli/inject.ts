import { readFile } from 'node:fs/promises';
import { text } from 'node:stream/consumers';
import { optionsHelp } from '../config/options.js';
import { INJECTOR_OPTIONS, loadInjectorConfig } from '../injector/config.js';
import { injectManifests } from '../injector/manifests.js';
import { EXIT_CONFIG, loadOrReport, wantsHelp } from './load-config.js';

export interface InjectIo {
  readonly stdin: NodeJS.ReadableStream;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly env: NodeJS.ProcessEnv;
}

const USAGE = `usage: auth-shim inject [--all] [flags] [FILE … | -] > injected.yaml
Reads Kubernetes YAML (multi-document, List; Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet,
Job, CronJob) from the files or stdin and writes it to stdout with the sidecar injected into every
pod template annotated auth-shim.io/inject: "true" (--all: every pod template not annotated "false").
Other documents are copied unchanged. Helm: helm install … --post-renderer auth-shim --post-renderer-args inject
`;

/**
 * `auth-shim inject`: the webhook's mutation for GitOps repositories and Helm post-renderers.
 * All input is read and checked before anything is written, so a failure never leaves half a
 * manifest on stdout.
 */
export async function runInject(args: string[], io: InjectIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env }): Promise<number> {
  if (wantsHelp(args)) {
    io.stdout.write(`${USAGE}\n${optionsHelp('inject', 'render the sidecar into manifests', INJECTOR_OPTIONS)}\n`);
    return 0;
  }
  const parsed = loadOrReport('inject', () => loadInjectorConfig(io.env, args, ['--all']), io.stderr);
  if (parsed === undefined) return EXIT_CONFIG;
  const all = args.includes('--all');
  const files = parsed.positionals.length === 0 ? ['-'] : parsed.positionals;

  const outputs: string[] = [];
  const problems: string[] = [];
  for (const file of files) {
    let input: string;
    try {
      input = file === '-' ? await text(io.stdin) : await readFile(file, 'utf8');
    } catch (err) {
      problems.push(`${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
      continue;
    }
    const result = injectManifests(input, file === '-' ? 'stdin' : file, parsed.config, { all });
    for (const note of result.notes) io.stderr.write(`auth-shim inject: ${note}\n`);
    problems.push(...result.problems);
    outputs.push(result.output);
  }
  if (problems.length > 0) {
    io.stderr.write(`auth-shim inject: nothing written:\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
    return 1;
  }
  // Files are joined as separate YAML documents.
  io.stdout.write(outputs.map((o, i) => (i > 0 && !/^---/.test(o) ? `---\n${o}` : o)).map((o, i, a) => (i < a.length - 1 && !o.endsWith('\n') ? `${o}\n` : o)).join(''));
  return 0;
}
