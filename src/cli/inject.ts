import { createReadStream } from 'node:fs';
import { optionsHelp } from '../config/options.js';
import { INJECTOR_OPTIONS, loadInjectorConfig } from '../injector/config.js';
import { injectManifestBytes, MAX_INPUT_BYTES } from '../injector/manifests.js';
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
Other documents are copied unchanged. YAML is read as kubectl reads it (1.1, merge keys); at most
${MAX_INPUT_BYTES / 2 ** 20} MiB per input. Helm: helm install … --post-renderer auth-shim --post-renderer-args inject
`;

/**
 * `auth-shim inject`: the webhook's mutation for GitOps repositories and Helm post-renderers.
 * All input is read and checked before anything is written, so a failure never leaves half a
 * manifest on stdout.
 */
export async function runInject(
  args: string[],
  io: InjectIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env },
): Promise<number> {
  if (wantsHelp(args)) {
    io.stdout.write(`${USAGE}\n${optionsHelp('inject', 'render the sidecar into manifests', INJECTOR_OPTIONS)}\n`);
    return 0;
  }
  const parsed = loadOrReport('inject', () => loadInjectorConfig(io.env, args, ['--all']), io.stderr);
  if (parsed === undefined) return EXIT_CONFIG;
  const all = args.includes('--all');
  const files = parsed.positionals.length === 0 ? ['-'] : parsed.positionals;

  const outputs: Buffer[] = [];
  const problems: string[] = [];
  for (const file of files) {
    const name = file === '-' ? 'stdin' : file;
    let input: Buffer;
    try {
      // Bytes, not text: an untouched document is copied as it is, invalid UTF-8 included (issue 15).
      input = await readLimited(file === '-' ? io.stdin : createReadStream(file), MAX_INPUT_BYTES);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why =
        code === 'ENOENT'
          ? 'no such file'
          : code === 'E2BIG'
            ? `over the ${MAX_INPUT_BYTES}-byte input limit of auth-shim inject: split the input`
            : (err as Error).message;
      problems.push(`${name}: ${why}`);
      continue;
    }
    const result = injectManifestBytes(input, name, parsed.config, { all });
    for (const note of result.notes) io.stderr.write(`auth-shim inject: ${note}\n`);
    problems.push(...result.problems);
    outputs.push(result.output);
  }
  if (problems.length > 0) {
    io.stderr.write(`auth-shim inject: nothing written:\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
    return 1;
  }
  // Files are joined as separate YAML documents.
  const joined: Buffer[] = [];
  outputs.forEach((o, i) => {
    if (i > 0 && !o.subarray(0, 3).equals(SEPARATOR)) joined.push(Buffer.from('---\n'));
    joined.push(o);
    if (i < outputs.length - 1 && o.length > 0 && o[o.length - 1] !== 0x0a) joined.push(Buffer.from('\n'));
  });
  io.stdout.write(Buffer.concat(joined));
  return 0;
}

const SEPARATOR = Buffer.from('---');

/** Reads a stream whole, failing with `E2BIG` past `limit` bytes instead of holding an unbounded input. */
async function readLimited(stream: NodeJS.ReadableStream, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += b.length;
    if (size > limit) {
      (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
      throw Object.assign(new Error(`over ${limit} bytes`), { code: 'E2BIG' });
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}
