import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Ajv, type AnySchema } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CHART_DIR, helm } from '../helpers/helm.js';

/**
 * values.schema.json covers every value (objects are closed with `additionalProperties: false`,
 * so a value missing from the schema makes `helm lint` of the defaults fail), helm rejects bad
 * values with a message that names the value and the rule, and every value in values.yaml has
 * its `# --` description (helm-docs format).
 */

type Json = Record<string, unknown>;

async function schema(): Promise<Json> {
  return JSON.parse(await readFile(join(CHART_DIR, 'values.schema.json'), 'utf8')) as Json;
}

async function reject(set: string[]): Promise<string> {
  const r = await helm(['template', 'auth-shim', CHART_DIR, ...set.flatMap((s) => ['--set', s])]);
  expect(r.code).not.toBe(0);
  return r.stderr;
}

/** Dotted paths of every schema object property, with whether it is closed and described. */
function schemaProblems(node: Json, at = ''): string[] {
  const out: string[] = [];
  if (typeof node['description'] !== 'string' || node['description'] === '') out.push(`${at || '/'}: no description`);
  const props = node['properties'] as Record<string, Json> | undefined;
  if (props !== undefined) {
    if (node['additionalProperties'] !== false) out.push(`${at || '/'}: additionalProperties is not false`);
    for (const [k, v] of Object.entries(props)) out.push(...schemaProblems(v, `${at}/${k}`));
  }
  return out;
}

describe('values.schema.json', () => {
  it('is a valid draft-07 schema that the default values satisfy', async () => {
    const ajv = new Ajv({ strict: true, allErrors: true, strictRequired: false });
    const s = await schema();
    const validate = ajv.compile(s as AnySchema);
    const values = parse(await readFile(join(CHART_DIR, 'values.yaml'), 'utf8')) as unknown;
    expect(validate(values), JSON.stringify(validate.errors)).toBe(true);
  });

  it('closes every object and describes every value', async () => {
    expect(schemaProblems(await schema())).toEqual([]);
  });

  it('rejects an unknown certificate mode, naming the value and the choices', async () => {
    const err = await reject(['certificates.mode=letsencrypt']);
    expect(err).toContain("at '/certificates/mode': value must be one of 'auto', 'cert-manager', 'provided'");
  });

  it('rejects a misspelt value instead of ignoring it', async () => {
    expect(await reject(['sidecar.upstreamURL=http://litellm:4000/anthropic'])).toMatch(
      /\/sidecar.*additional properties 'upstreamURL' not allowed/,
    );
  });

  it('rejects an upstream that is not an http(s) URL, like the webhook would', async () => {
    expect(await reject(['sidecar.upstreamUrl=litellm:4000'])).toContain("at '/sidecar/upstreamUrl'");
  });

  it('rejects misshapen federation identifiers and a lifetime below the API server minimum, naming each', async () => {
    const err = await reject([
      'sidecar.federation.ruleId=rule-1',
      'sidecar.federation.organizationId=acme',
      'sidecar.federation.serviceAccountId=sa',
      'sidecar.federation.workspaceId=ws',
      'sidecar.federation.audience=http://api.anthropic.com',
      'sidecar.federation.expirationSeconds=599',
      'sidecar.federation.tokenUrl=litellm:4000/token',
    ]);
    for (const v of [
      'ruleId',
      'organizationId',
      'serviceAccountId',
      'workspaceId',
      'audience',
      'expirationSeconds',
      'tokenUrl',
    ])
      expect(err).toContain(`at '/sidecar/federation/${v}'`);
  });

  it('rejects a failurePolicy other than Fail or Ignore', async () => {
    expect(await reject(['webhook.namespaceEnabled.failurePolicy=Retry'])).toContain(
      "at '/webhook/namespaceEnabled/failurePolicy': value must be one of 'Fail', 'Ignore'",
    );
  });

  it('rejects a sidecar memory limit that is not a Kubernetes quantity', async () => {
    expect(await reject(['sidecar.resources.limits.memory=256MB'])).toContain("at '/sidecar/resources/limits/memory'");
  });

  it('requires the Secret and the CA in provided mode', async () => {
    const err = await reject(['certificates.mode=provided']);
    expect(err).toContain("at '/certificates/provided/secretName'");
    expect(err).toContain("at '/certificates/provided/caBundle'");
  });
});

describe('values.yaml', () => {
  it('has a `# --` comment above every value', async () => {
    const lines = (await readFile(join(CHART_DIR, 'values.yaml'), 'utf8')).split('\n');
    const undocumented: string[] = [];
    const stack: { indent: number; key: string }[] = [];
    lines.forEach((line, i) => {
      const m = /^(\s*)([A-Za-z0-9_]+):(.*)$/.exec(line);
      if (m === null) return;
      const indent = (m[1] ?? '').length;
      while (stack.length > 0 && (stack.at(-1)?.indent ?? 0) >= indent) stack.pop();
      const key = m[2] as string;
      const parents = stack.map((s) => s.key).join('.');
      const path = parents === '' ? key : `${parents}.${key}`;
      stack.push({ indent, key });
      if ([...VALUE_BLOCKS].some((b) => parents === b || parents.startsWith(`${b}.`))) return;
      // A key with a value on its line is a value; a key with a block below is a section, unless
      // the block is a list or a map of example defaults (a value too).
      const rest = (m[3] ?? '').trim();
      const next = lines.slice(i + 1).find((l) => l.trim() !== '' && !l.trim().startsWith('#')) ?? '';
      const nextIndent = /^(\s*)/.exec(next)?.[1]?.length ?? 0;
      const isSection = rest === '' && nextIndent > indent && !next.trim().startsWith('-') && !VALUE_BLOCKS.has(path);
      if (isSection) return;
      // Find the comment block directly above (skipping nothing).
      let j = i - 1;
      let described = false;
      while (j >= 0 && /^\s*#/.test(lines[j] ?? '')) {
        if (/^\s*# -- \S/.test(lines[j] ?? '')) described = true;
        j--;
      }
      if (!described) undocumented.push(`${path} (line ${i + 1})`);
    });
    expect(undocumented).toEqual([]);
  });
});

/** Values whose default is a block (a map), documented as one value. */
const VALUE_BLOCKS = new Set(['resources', 'metrics.grafanaDashboard.labels']);
