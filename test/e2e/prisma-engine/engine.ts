import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { PrismaPg } from '@prisma/adapter-pg';
import { bindAdapter } from '@prisma/driver-adapter-utils';
import pg from 'pg';

/**
 * The engine build prisma-client-py 0.15.0 pins (Prisma 5.17.0, 393aa359c9ad), compiled to
 * WebAssembly and published on the npm registry, running over `pg` through Prisma's driver adapter.
 */
/** Node has WebAssembly; @types/node does not declare it (that is lib.dom's job). */
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (m: object, imports: object) => { exports: unknown };
};

export const ENGINE_COMMIT = '393aa359c9ad4a4bb28630fb5613f9c281cde053';

export interface WasmEngine {
  connect(trace: string): Promise<void>;
  disconnect(trace: string): Promise<void>;
  query(body: string, trace: string, txId?: string): Promise<string>;
  startTransaction(input: string, trace: string): Promise<string>;
  commitTransaction(txId: string, trace: string): Promise<string>;
  rollbackTransaction(txId: string, trace: string): Promise<string>;
}

/**
 * Column types Prisma's pg adapter refuses ("UnsupportedNativeDataType") but LiteLLM's raw queries
 * return: `name[]` (1003, from pg_catalog lookups), `regclass` (2205) and `void` (2278, from
 * `SELECT pg_notify(…)`-style calls). Reported as text, as the native engine reads them.
 */
const AS_TEXT = new Set([1003, 2205, 2278]);
const TEXT_OID = 25;

type Fields = { dataTypeID: number }[];
function asText(result: unknown): unknown {
  for (const r of Array.isArray(result) ? result : [result]) {
    for (const f of (r as { fields?: Fields } | undefined)?.fields ?? [])
      if (AS_TEXT.has(f.dataTypeID)) f.dataTypeID = TEXT_OID;
  }
  return result;
}

/** A pg client whose results report the types above as text, for both of pg's calling styles. */
class TextFallbackClient extends pg.Client {
  override query(...args: unknown[]): never {
    const last = args.at(-1);
    if (typeof last === 'function') {
      args[args.length - 1] = (err: unknown, res: unknown) =>
        (last as (e: unknown, r: unknown) => void)(err, err ? res : asText(res));
      return (super.query as (...a: unknown[]) => never)(...args);
    }
    const out = (super.query as (...a: unknown[]) => unknown)(...args);
    return (out instanceof Promise ? out.then(asText) : out) as never;
  }
}

export async function openEngine(
  datamodel: string,
  databaseUrl: string,
  log: (line: string) => void,
): Promise<{ engine: WasmEngine; close(): Promise<void> }> {
  const require = createRequire(import.meta.url);
  const dir = join(dirname(require.resolve('@prisma/query-engine-wasm/package.json')), 'postgresql');
  const bg = (await import(join(dir, 'query_engine_bg.js'))) as Record<string, unknown> & {
    __wbg_set_wasm(x: unknown): void;
    QueryEngine: new (o: object, cb: (l: string) => void, a: object) => WasmEngine;
  };
  const module = new WebAssembly.Module(await readFile(join(dir, 'query_engine_bg.wasm')));
  const instance = new WebAssembly.Instance(module, { './query_engine_bg.js': bg });
  bg.__wbg_set_wasm(instance.exports);
  const pool = new pg.Pool({ connectionString: databaseUrl, Client: TextFallbackClient, max: 10 });
  const adapter = bindAdapter(new PrismaPg(pool));
  const engine = new bg.QueryEngine(
    {
      datamodel,
      logLevel: 'error',
      logQueries: false,
      env: {},
      ignoreEnvVarErrors: true,
      datasourceOverrides: {},
      configDir: '.',
      engineProtocol: 'json',
    },
    log,
    adapter,
  );
  await engine.connect('{}');
  return {
    engine,
    close: async () => {
      await engine.disconnect('{}').catch(() => undefined);
      await pool.end();
    },
  };
}
