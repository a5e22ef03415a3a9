/**
 * prisma-client-py speaks GraphQL to its query engine (the native engine's `graphql` protocol); the
 * WebAssembly build of the same engine speaks only Prisma's JSON protocol. This turns the small
 * GraphQL subset prisma-client-py's query builder writes (one aliased root field, arguments of
 * JSON scalars, bare enums, objects and lists, nested selections) into JSON-protocol queries, and
 * JSON-protocol answers back into what the GraphQL protocol returned.
 */

type Value = string | number | boolean | null | Value[] | { [k: string]: Value };

interface Field {
  readonly alias: string | undefined;
  readonly name: string;
  readonly args: Record<string, Value> | undefined;
  readonly selection: Field[] | undefined;
}

/** The datamodel facts the translation needs: which fields are `Json`, which are relations. */
export type Models = ReadonlyMap<string, ReadonlyMap<string, string>>;

export function parseModels(datamodel: string): Models {
  const models = new Map<string, Map<string, string>>();
  // A block ends at a line holding only `}`: field attributes such as `@default("{}")` contain braces.
  for (const m of datamodel.matchAll(/^model\s+(\w+)\s*\{\n([\s\S]*?)^\}/gm)) {
    const fields = new Map<string, string>();
    for (const line of (m[2] as string).split('\n')) {
      const f = /^\s*(\w+)\s+(\w+)/.exec(line);
      if (f !== null) fields.set(f[1] as string, f[2] as string);
    }
    models.set(m[1] as string, fields);
  }
  return models;
}

const TOKEN = /\s*(?:([{}()[\]:,])|("(?:[^"\\]|\\.)*")|(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)|([A-Za-z_]\w*))/y;

function tokenize(text: string): string[] {
  const out: string[] = [];
  let pos = 0;
  for (;;) {
    TOKEN.lastIndex = pos;
    const m = TOKEN.exec(text);
    if (m === null) {
      if (text.slice(pos).trim() === '') return out;
      throw new Error(`cannot read GraphQL at ${text.slice(pos, pos + 40)}`);
    }
    out.push((m[1] ?? m[2] ?? m[3] ?? m[4]) as string);
    pos = TOKEN.lastIndex;
  }
}

class Parser {
  private i = 0;
  private readonly t: string[];
  constructor(tokens: string[]) {
    this.t = tokens;
  }
  private peek(): string | undefined {
    return this.t[this.i];
  }
  private next(): string {
    const v = this.t[this.i++];
    if (v === undefined) throw new Error('unexpected end of GraphQL');
    return v;
  }
  private expect(v: string): void {
    const got = this.next();
    if (got !== v) throw new Error(`expected ${v}, got ${got}`);
  }
  document(): { operation: string; field: Field } {
    const operation = this.next();
    this.expect('{');
    const field = this.field();
    this.expect('}');
    return { operation, field };
  }
  private field(): Field {
    let name = this.next();
    let alias: string | undefined;
    if (this.peek() === ':') {
      this.next();
      alias = name;
      name = this.next();
    }
    let args: Record<string, Value> | undefined;
    if (this.peek() === '(') {
      this.next();
      args = this.entries(')');
    }
    let selection: Field[] | undefined;
    if (this.peek() === '{') {
      this.next();
      selection = [];
      while (this.peek() !== '}') selection.push(this.field());
      this.next();
    }
    return { alias, name, args, selection };
  }
  private entries(close: string): Record<string, Value> {
    const out: Record<string, Value> = {};
    while (this.peek() !== close) {
      const key = this.next();
      const k = key.startsWith('"') ? (JSON.parse(key) as string) : key;
      this.expect(':');
      out[k] = this.value();
      if (this.peek() === ',') this.next();
    }
    this.next();
    return out;
  }
  private value(): Value {
    const tok = this.next();
    if (tok === '{') return this.entries('}');
    if (tok === '[') {
      const list: Value[] = [];
      // prisma-client-py's lists open with a separator: `[,\n  "a",\n  "b"\n]`, and `[,\n]` when empty.
      while (this.peek() !== ']') {
        if (this.peek() === ',') {
          this.next();
          continue;
        }
        list.push(this.value());
      }
      this.next();
      return list;
    }
    if (tok.startsWith('"')) return JSON.parse(tok) as string;
    if (tok === 'true' || tok === 'false') return tok === 'true';
    if (tok === 'null') return null;
    if (/^-?\d/.test(tok)) return Number(tok);
    return tok; // an enum value: the JSON protocol takes it as a string
  }
}

const ACTION = new RegExp(
  '^(findUnique|findFirst|findMany|createOne|createMany|updateOne|updateMany|upsertOne|deleteOne|deleteMany|' +
    String.raw`aggregate|groupBy)(\w+?)(OrThrow)?$`,
);

export interface Translated {
  /** The JSON-protocol query. */
  readonly query: Record<string, unknown>;
  /** The alias prisma-client-py reads the answer from (`result`). */
  readonly alias: string;
}

export function translateQuery(graphql: string, models: Models): Translated {
  const { field } = new Parser(tokenize(graphql)).document();
  const alias = field.alias ?? field.name;
  let modelName: string | undefined;
  let action = field.name;
  const m = ACTION.exec(field.name);
  if (m !== null) {
    modelName = m[2] as string;
    action = `${m[1] as string}${m[3] ?? ''}`;
  }
  const args = modelName === undefined ? (field.args ?? {}) : tagJson(field.args ?? {}, modelName, models);
  const query: Record<string, unknown> = { action, query: { arguments: args, selection: selection(field.selection) } };
  if (modelName !== undefined) query['modelName'] = modelName;
  return { query, alias };
}

function selection(fields: Field[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields ?? []) {
    out[f.name] =
      f.selection === undefined && f.args === undefined
        ? true
        : { ...(f.args === undefined ? {} : { arguments: f.args }), selection: selection(f.selection) };
  }
  return out;
}

/**
 * The GraphQL protocol took a `Json` field as a string holding JSON; the JSON protocol needs it
 * tagged (`{"$type":"Json","value":…}`), or it stores a JSON string instead of the document.
 */
function tagJson(value: Value, model: string, models: Models): Value {
  if (Array.isArray(value)) return value.map((v) => tagJson(v, model, models));
  if (value === null || typeof value !== 'object') return value;
  const fields = models.get(model);
  const out: Record<string, Value> = {};
  for (const [k, v] of Object.entries(value)) {
    const type = fields?.get(k);
    if (type === 'Json') out[k] = tagJsonValue(v);
    else if (type !== undefined && models.has(type)) out[k] = tagJson(v, type, models);
    else out[k] = tagJson(v, model, models);
  }
  return out;
}

function tagJsonValue(v: Value): Value {
  if (typeof v === 'string') return { $type: 'Json', value: v };
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    // filters and update operators around the value: `{ equals: "…" }`, `{ set: "…" }`
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, tagJsonValue(x)]));
  }
  return v;
}

/** JSON-protocol answers tag DateTime, Json, BigInt, Decimal and Bytes; the GraphQL protocol sent plain strings. */
export function untag(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(untag);
  if (value === null || typeof value !== 'object') return value;
  const o = value as Record<string, unknown>;
  if (typeof o['$type'] === 'string' && 'value' in o && Object.keys(o).length === 2) return o['value'];
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, untag(v)]));
}

/**
 * A JSON-protocol single answer (`{"data":{"findUniqueX":…}}`) as the GraphQL protocol shaped it
 * (`{"data":{"result":…}}`).
 */
export function answer(json: Record<string, unknown>, alias: string): Record<string, unknown> {
  const data = json['data'];
  if (data === undefined || data === null || typeof data !== 'object') return json;
  return { ...json, data: { [alias]: rawJson(untag(Object.values(data)[0])) } };
}

/**
 * Raw query results: the native engine sent `json` columns as JSON values, the WebAssembly one
 * sends the text; LiteLLM builds its models from these rows and needs the documents.
 */
function rawJson(value: unknown): unknown {
  const raw = value as { columns?: unknown; types?: unknown; rows?: unknown } | null;
  if (raw === null || typeof raw !== 'object' || !Array.isArray(raw.types) || !Array.isArray(raw.rows)) return value;
  const types = raw.types as string[];
  const parse = (v: unknown): unknown => (typeof v === 'string' ? JSON.parse(v) : v);
  for (const row of raw.rows as unknown[][]) {
    types.forEach((t, i) => {
      if (t === 'json') row[i] = parse(row[i]);
      else if (t === 'json-array' && Array.isArray(row[i])) row[i] = (row[i] as unknown[]).map(parse);
    });
  }
  return value;
}
