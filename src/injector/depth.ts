/**
 * How deep a JSON-like value nests, counted without recursion, so that measuring a hostile
 * object cannot itself overflow the stack. Issue 15: a pod nested ~5,000 levels deep made the
 * mutation's recursive clone throw RangeError, and the webhook answered a plain 500.
 */

/**
 * The deepest a pod may nest. The deepest real fields (affinity terms, managedFields' `fieldsV1`)
 * sit about 20 levels below the pod; the API server itself allows 10,000.
 */
export const MAX_POD_DEPTH = 100;

/** True when `value` nests more than `limit` objects or arrays deep; stops at the first such path. */
export function deeperThan(value: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  const seen = new Set<object>();
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [v, depth] = next;
    if (typeof v !== 'object' || v === null || seen.has(v)) continue;
    if (depth >= limit) return true;
    // An alias-shared YAML node is one object reached twice; its depth is counted once.
    seen.add(v);
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}
