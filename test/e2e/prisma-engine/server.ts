/**
 * A stand-in for Prisma's native query engine, for LiteLLM's database in test/e2e (issue 18).
 *
 * Why it exists: LiteLLM's database layer is prisma-client-py, which runs a native `query-engine`
 * binary that `prisma generate` downloads from a host these machines cannot reach. The same engine
 * build is on the npm registry compiled to WebAssembly (engine.ts); this process wraps it in the
 * native engine's HTTP interface so LiteLLM runs unmodified with `PRISMA_QUERY_ENGINE_BINARY`
 * pointing here. Interface, as prisma-client-py uses it (prisma/engine/_query.py): started as
 * `<binary> -p <port> --enable-metrics --enable-raw-queries` with the schema path in
 * `PRISMA_DML_PATH`; `<binary> --version` first; `GET /status`; `POST /` with a GraphQL query or a
 * `{"batch":[…],"transaction":true}`; `X-transaction-id` to run inside `POST /transaction/start`
 * (→ `{"id"}`), `/transaction/<id>/commit`, `/transaction/<id>/rollback`.
 *
 * Test infrastructure only: never part of auth-shim.
 */
import { createServer, type IncomingMessage } from 'node:http';
import { appendFile, readFile } from 'node:fs/promises';
import { answer, parseModels, translateQuery, type Models } from './graphql.js';
import { ENGINE_COMMIT, openEngine, type WasmEngine } from './engine.js';

const argv = process.argv.slice(2);
if (argv.includes('--version')) {
  process.stdout.write(`query-engine ${ENGINE_COMMIT}\n`);
  process.exit(0);
}
const port = Number(argv[argv.indexOf('-p') + 1] ?? argv[argv.indexOf('--port') + 1]);
const dmlPath = process.env['PRISMA_DML_PATH'];
const url = databaseUrl();
if (!Number.isInteger(port) || dmlPath === undefined || url === undefined) {
  process.stderr.write('prisma-engine: needs -p <port>, PRISMA_DML_PATH and DATABASE_URL (or OVERWRITE_DATASOURCES)\n');
  process.exit(2);
}

function databaseUrl(): string | undefined {
  const over = process.env['OVERWRITE_DATASOURCES'];
  if (over !== undefined) {
    const first = (JSON.parse(over) as { url?: string }[])[0]?.url;
    if (first !== undefined) return first;
  }
  return process.env['DATABASE_URL'];
}

const datamodel = await readFile(dmlPath, 'utf8');
const models = parseModels(datamodel);
const { engine, close } = await openEngine(datamodel, url, (line) => process.stderr.write(`${line}\n`));

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

interface GraphqlRequest {
  query: string;
}

const trace = process.env['PRISMA_ENGINE_TRACE'];
async function run(e: WasmEngine, m: Models, text: string, txId: string | undefined): Promise<unknown> {
  if (trace !== undefined) await appendFile(trace, `${text}\n`);
  const req = JSON.parse(text) as GraphqlRequest | { batch: GraphqlRequest[]; transaction?: boolean };
  if ('batch' in req) {
    const parts = req.batch.map((q) => translateQuery(q.query, m));
    const out = JSON.parse(
      await e.query(
        JSON.stringify({ batch: parts.map((p) => p.query), ...(req.transaction === true ? { transaction: {} } : {}) }),
        '{}',
        txId,
      ),
    ) as { batchResult?: Record<string, unknown>[] };
    if (out.batchResult === undefined) return out;
    return { ...out, batchResult: out.batchResult.map((r, i) => answer(r, parts[i]?.alias ?? 'result')) };
  }
  const { query, alias } = translateQuery(req.query, m);
  return answer(JSON.parse(await e.query(JSON.stringify(query), '{}', txId)) as Record<string, unknown>, alias);
}

const server = createServer((req, res) => {
  const send = (status: number, value: unknown): void => {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
  };
  void (async () => {
    const path = req.url?.split('?')[0] ?? '/';
    const tx = /^\/transaction\/([^/]+)\/(commit|rollback)$/.exec(path);
    try {
      if (req.method === 'GET' && path === '/status') return send(200, { status: 'ok' });
      if (req.method === 'GET' && path === '/metrics')
        return send(200, req.url?.includes('format=json') ? { counters: [], gauges: [], histograms: [] } : '');
      if (req.method === 'POST' && path === '/') {
        const txId = req.headers['x-transaction-id'];
        return send(200, await run(engine, models, await body(req), typeof txId === 'string' ? txId : undefined));
      }
      if (req.method === 'POST' && path === '/transaction/start')
        return send(200, await engine.startTransaction(await body(req), '{}'));
      if (req.method === 'POST' && tx !== null) {
        await body(req);
        return send(
          200,
          tx[2] === 'commit'
            ? await engine.commitTransaction(tx[1] as string, '{}')
            : await engine.rollbackTransaction(tx[1] as string, '{}'),
        );
      }
      send(404, { errors: [{ error: `no route ${req.method} ${path}` }] });
    } catch (err) {
      send(500, {
        errors: [
          { error: (err as Error).message, user_facing_error: { is_panic: false, message: (err as Error).message } },
        ],
      });
    }
  })();
});
server.listen(port, '127.0.0.1');
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    server.close();
    server.closeAllConnections();
    void close().finally(() => process.exit(0));
  });
}
