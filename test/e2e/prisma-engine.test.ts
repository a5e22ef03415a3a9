import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyMigrations, engineBinaries, ensureLitellmDb } from './_litellm-db.js';
import { freePort, LITELLM_NEW } from './_peers.js';
import { startPostgres, type Postgres } from './_postgres.js';
import { answer, parseModels, translateQuery } from './prisma-engine/graphql.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The stand-in query engine (prisma-engine/server.ts) on its own: started the way prisma-client-py
 * starts the native one, against a real PostgreSQL with LiteLLM's migrated schema, and asked the
 * GraphQL prisma-client-py writes.
 */
describe("prisma-engine (WebAssembly query engine behind the native engine's HTTP interface)", () => {
  let pg: Postgres;
  let child: ChildProcess;
  let url: string;
  let dir: string;
  const logs: string[] = [];

  beforeAll(async () => {
    const { site } = await ensureLitellmDb(LITELLM_NEW);
    pg = await startPostgres();
    await applyMigrations(pg, site);
    dir = await mkdtemp(join(tmpdir(), 'prisma-engine-test-'));
    const { query } = await engineBinaries(dir);
    const port = await freePort();
    child = spawn(query, ['-p', String(port), '--enable-metrics', '--enable-raw-queries'], {
      env: { ...process.env, PRISMA_DML_PATH: join(site, 'litellm', 'proxy', 'schema.prisma'), DATABASE_URL: pg.url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (c: Buffer) => logs.push(c.toString()));
    child.stderr?.on('data', (c: Buffer) => logs.push(c.toString()));
    url = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      const ok = await fetch(`${url}/status`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (child.exitCode !== null || i > 600) throw new Error(`engine did not start:\n${logs.join('')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 300_000);
  afterAll(async () => {
    child?.kill('SIGTERM');
    await pg?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  const gql = async (query: string, txId?: string): Promise<Record<string, unknown>> => {
    const res = await fetch(`${url}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(txId === undefined ? {} : { 'x-transaction-id': txId }) },
      body: JSON.stringify({ query, variables: {} }),
    });
    expect(res.status).toBe(200);
    return (await res.json()) as Record<string, unknown>;
  };

  it('--version names the engine build prisma-client-py pins', async () => {
    const { execFile } = await import('node:child_process');
    const out = await new Promise<string>((r, j) =>
      execFile(join(dir, 'query-engine'), ['--version'], (e, so) => (e ? j(e) : r(so))),
    );
    expect(out.trim()).toBe('query-engine 393aa359c9ad4a4bb28630fb5613f9c281cde053');
  });

  it('creates and reads a row, with a Json field and a DateTime, in GraphQL-protocol shape', async () => {
    const created = await gql(`mutation {
  result: createOneLiteLLM_BudgetTable
  (
    data: {
      budget_id: "b-1"
      max_budget: 1.5
      allowed_models: [,
        "claude-a",
        "claude-b"
      ]
      created_by: "test"
      updated_by: "test"
      model_max_budget: "{\\"claude\\": {\\"budget_limit\\": 2}}"
    }
  )
  {
    budget_id
    max_budget
    allowed_models
    model_max_budget
    created_at
  }
}`);
    expect(created['errors'], JSON.stringify(created)).toBeUndefined();
    const row = (created['data'] as { result: Record<string, unknown> }).result;
    // prisma-client-py opens every list with a separator (`[,`), which must not become an element
    expect(row).toMatchObject({ budget_id: 'b-1', max_budget: 1.5, allowed_models: ['claude-a', 'claude-b'] });
    expect(JSON.parse(row['model_max_budget'] as string)).toEqual({ claude: { budget_limit: 2 } });
    expect(row['created_at']).toMatch(/^\d{4}-\d\d-\d\dT/);
    const { stdout } = {
      stdout: await pg.psql([
        '-At',
        '-c',
        `SELECT model_max_budget->'claude'->>'budget_limit' FROM "LiteLLM_BudgetTable" WHERE budget_id = 'b-1'`,
      ]),
    };
    expect(stdout.trim(), 'the Json field is stored as a document, not a string').toBe('2');
    const found = await gql(`query {
  result: findManyLiteLLM_BudgetTable
  (
    where: {
      max_budget: {
        gt: 1
      }
    }
  )
  {
    budget_id
  }
}`);
    expect(found).toEqual({ data: { result: [{ budget_id: 'b-1' }] } });
  });

  it('raw queries return columns, types and rows; name[], regclass and void columns read as text', async () => {
    const res = await gql(`mutation {
  result: queryRaw
  (
    query: "SELECT 1 AS one, '\\"LiteLLM_BudgetTable\\"'::regclass AS rel, ARRAY['a','b']::name[] AS names, \
pg_sleep(0) AS nothing, '{\\"a\\": [1]}'::jsonb AS doc"
    parameters: "[]"
  )
}`);
    expect(res['errors'], JSON.stringify(res)).toBeUndefined();
    const raw = (res['data'] as { result: { columns: string[]; rows: unknown[][] } }).result;
    expect(raw.columns).toEqual(['one', 'rel', 'names', 'nothing', 'doc']);
    expect(raw.rows[0]?.slice(0, 3)).toEqual([1, '"LiteLLM_BudgetTable"', '{a,b}']);
    // LiteLLM builds models from raw rows: a json column must arrive as the document, as the native engine sent it.
    expect(raw.rows[0]?.[4]).toEqual({ a: [1] });
  });

  it('an interactive transaction rolls back', async () => {
    const start = await fetch(`${url}/transaction/start`, {
      method: 'POST',
      body: JSON.stringify({ max_wait: 2000, timeout: 5000 }),
    });
    const { id } = (await start.json()) as { id: string };
    expect(typeof id).toBe('string');
    await gql(
      `mutation { result: executeRaw ( query: "DELETE FROM \\"LiteLLM_BudgetTable\\"" parameters: "[]" ) }`,
      id,
    );
    expect((await fetch(`${url}/transaction/${id}/rollback`, { method: 'POST' })).status).toBe(200);
    expect((await pg.psql(['-At', '-c', 'SELECT count(*) FROM "LiteLLM_BudgetTable"'])).trim()).toBe('1');
  });
});

describe('prisma-engine GraphQL → JSON protocol translation (pure)', () => {
  const models = parseModels(`model Key {
  token String @id
  models String[]
  metadata Json @default("{}")
  budget Budget? @relation(fields: [budget_id], references: [id])
  budget_id String?
}

model Budget {
  id String @id
  config Json? @default("{}")
  keys Key[]
}
`);

  it('a create with an empty list, a Json field, an enum and a nested relation write', () => {
    const { query, alias } = translateQuery(
      `mutation {
  result: createOneKey
  (
    data: {
      token: "t"
      models: [,
      ]
      metadata: "{\\"a\\": 1}"
      kind: DEFAULT
      budget: {
        create: {
          id: "b"
          config: "{}"
        }
      }
    }
  )
  {
    token
    budget {
      id
    }
  }
}`,
      models,
    );
    expect(alias).toBe('result');
    expect(query).toEqual({
      modelName: 'Key',
      action: 'createOne',
      query: {
        arguments: {
          data: {
            token: 't',
            models: [],
            metadata: { $type: 'Json', value: '{"a": 1}' },
            kind: 'DEFAULT',
            budget: { create: { id: 'b', config: { $type: 'Json', value: '{}' } } },
          },
        },
        selection: { token: true, budget: { selection: { id: true } } },
      },
    });
  });

  it('OrThrow finders, aggregates and raw queries keep their names', () => {
    expect(
      translateQuery('query { result: findUniqueKeyOrThrow ( where: { token: "t" } ) { token } }', models).query,
    ).toMatchObject({ modelName: 'Key', action: 'findUniqueOrThrow' });
    expect(translateQuery('query { result: aggregateKey ( take: -1 ) { _count { _all } } }', models).query).toEqual({
      modelName: 'Key',
      action: 'aggregate',
      query: { arguments: { take: -1 }, selection: { _count: { selection: { _all: true } } } },
    });
    expect(
      translateQuery('mutation { result: queryRaw ( query: "SELECT 1" parameters: "[]" ) }', models).query,
    ).toEqual({ action: 'queryRaw', query: { arguments: { query: 'SELECT 1', parameters: '[]' }, selection: {} } });
  });

  it('answers come back under the alias, untagged', () => {
    expect(
      answer(
        {
          data: {
            findManyKey: [
              {
                token: 't',
                created: { $type: 'DateTime', value: '2026-01-01T00:00:00.000Z' },
                metadata: { $type: 'Json', value: '{}' },
              },
            ],
          },
        },
        'result',
      ),
    ).toEqual({ data: { result: [{ token: 't', created: '2026-01-01T00:00:00.000Z', metadata: '{}' }] } });
    expect(answer({ errors: [{ error: 'x' }] }, 'result')).toEqual({ errors: [{ error: 'x' }] });
  });
});
