import { describe, expect, it } from 'vitest';
import { createPathPolicy } from '../../src/proxy/paths.js';
import { allowedPathProblems, DEFAULT_ALLOWED_PATHS } from '../../src/vocabulary/path-patterns.js';

const policy = createPathPolicy(DEFAULT_ALLOWED_PATHS);

describe('path allowlist', () => {
  it.each([
    ['/v1/messages', '/v1/messages', ''],
    ['/v1/messages?beta=true', '/v1/messages', '?beta=true'],
    ['/v1/messages/count_tokens?beta=true', '/v1/messages/count_tokens', '?beta=true'],
    ['/v1/models', '/v1/models', ''],
    ['/v1/models?limit=20&after_id=x', '/v1/models', '?limit=20&after_id=x'],
    ['/v1/models/claude-sonnet-4-5-20250929', '/v1/models/claude-sonnet-4-5-20250929', ''],
    ['/v1/models/claude-3.5@latest', '/v1/models/claude-3.5@latest', ''],
  ])('forwards %s', (target, path, query) => {
    expect(policy.check(target)).toMatchObject({ ok: true, path, query });
  });

  it('names the matched route, not the concrete path (logs carry the route)', () => {
    expect(policy.check('/v1/models/claude-x?y=1')).toEqual({
      ok: true,
      path: '/v1/models/claude-x',
      query: '?y=1',
      route: '/v1/models/{id}',
    });
    expect(policy.check('/v1/messages?beta=true')).toMatchObject({ route: '/v1/messages' });
  });

  // Each of these would let the LiteLLM key reach another LiteLLM route, or a client pick the host.
  it.each([
    ['/key/generate', 'not forwarded'],
    ['/v1/messages/', 'not forwarded'],
    ['/v1/Messages', 'not forwarded'],
    ['/v1/messages/../../key/generate', '. or ..'],
    ['/v1/models/..', '. or ..'],
    ['/v1/models/.', '. or ..'],
    ['/v1/models/%2e%2e', '. or ..'],
    ['/v1/models/%2E%2e/key', '. or ..'],
    ['/v1/models/.%2e', '. or ..'],
    ['/v1/./messages', '. or ..'],
    ['/v1/models/a%2fb', 'encoded slashes'],
    ['/v1/models/a%2Fb', 'encoded slashes'],
    ['/v1/models/a%5cb', 'backslashes'],
    ['/v1/models/a\\b', 'backslashes'],
    ['/v1//messages', 'empty segments'],
    ['//evil.example/v1/messages', 'start with //'],
    ['http://evil.example/v1/messages', 'starting with /'],
    ['evil.example:443', 'starting with /'],
    ['*', 'starting with /'],
    ['', 'starting with /'],
    ['/v1/models/%41', 'not forwarded'],
    ['/v1/models/é', 'not forwarded'],
    ['/v1/models/a/b', 'not forwarded'],
    [`/v1/models/${'a'.repeat(5000)}/x`, 'not forwarded'],
  ])('rejects %s', (target, reason) => {
    const v = policy.check(target);
    expect(v.ok).toBe(false);
    if (!v.ok) {
      expect(v.reason).toContain(reason);
      expect(v.reason.length).toBeLessThan(500);
    }
  });

  it('configured entries are validated', () => {
    expect(allowedPathProblems('/v1/messages')).toEqual([]);
    expect(allowedPathProblems('/v1/files/{file_id}/content')).toEqual([]);
    expect(allowedPathProblems('v1/messages')[0]).toContain('must start with /');
    expect(allowedPathProblems('/v1/../key')[0]).toContain('segment');
    expect(allowedPathProblems('/v1/messages?x=1')[0]).toContain('query');
    expect(allowedPathProblems('/v1/a%2fb')[0]).toContain('invalid segment');
  });

  it('custom patterns match exactly one safe segment', () => {
    const p = createPathPolicy(['/v1/files/{file_id}/content']);
    expect(p.check('/v1/files/file_123/content').ok).toBe(true);
    expect(p.check('/v1/files/a/b/content').ok).toBe(false);
    expect(p.check('/v1/files/../content').ok).toBe(false);
    expect(p.check('/v1/files//content').ok).toBe(false);
  });
});
