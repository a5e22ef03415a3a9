/**
 * JSON Patch (RFC 6902) helpers: the pitfalls of admission patches handled once
 * (vault-k8s `agent/patch.go`).
 */

export interface AddOperation {
  readonly op: 'add';
  readonly path: string;
  readonly value: unknown;
}

export type PatchOperation = AddOperation;

/** RFC 6901 escaping: `~` → `~0`, then `/` → `~1` (`auth-shim.io/status` → `auth-shim.io~1status`). */
export function escapePointer(token: string): string {
  return token.replaceAll('~', '~0').replaceAll('/', '~1');
}

export function pointer(...tokens: readonly (string | number)[]): string {
  return tokens.map((t) => `/${escapePointer(String(t))}`).join('');
}

/**
 * Appends `items` to the array at `path`. `/-` on an absent array fails the whole patch (and with
 * it the pod's admission), so a missing array is created with the items in one `add`.
 */
export function appendAll(
  path: string,
  existing: readonly unknown[] | undefined,
  items: readonly unknown[],
): AddOperation[] {
  if (items.length === 0) return [];
  if (existing === undefined) return [{ op: 'add', path, value: [...items] }];
  return items.map((value) => ({ op: 'add', path: `${path}/-`, value }));
}

/** Inserts `items` at the front of the array at `path` (index 0 shifts the rest, RFC 6902 §4.1). */
export function prependAll(
  path: string,
  existing: readonly unknown[] | undefined,
  items: readonly unknown[],
): AddOperation[] {
  if (items.length === 0) return [];
  if (existing === undefined) return [{ op: 'add', path, value: [...items] }];
  return items.map((value, i) => ({ op: 'add', path: `${path}/${i}`, value }));
}

/** Sets keys of a string map (annotations), creating the map when absent. */
export function setKeys(
  path: string,
  existing: Readonly<Record<string, string>> | undefined,
  entries: Readonly<Record<string, string>>,
): AddOperation[] {
  if (Object.keys(entries).length === 0) return [];
  if (existing === undefined) return [{ op: 'add', path, value: { ...entries } }];
  // `add` on an existing member replaces it (RFC 6902 §4.1).
  return Object.entries(entries).map(([k, value]) => ({ op: 'add', path: `${path}/${escapePointer(k)}`, value }));
}
