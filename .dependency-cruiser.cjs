/**
 * The direction of the house (docs/ARCHITECTURE.md "Layers"): an import never runs up this list.
 *
 *   vocabulary                         imports nothing of the project
 *   config · credentials · telemetry   leaves: vocabulary only, and not each other
 *   proxy · injector · server · lifecycle · demo
 *                                      vocabulary and the leaves; not each other, except that proxy and
 *                                      injector may use server (listener plumbing, the /healthz /metrics listener)
 *   app · check · docs                 composition roots: anything below
 *   cli                                app and below
 *
 * Checked by test/docs/layers.test.ts (so `npm test` and CI fail on a violation) and by `npx depcruise src`.
 */
const LEAVES = '^src/(config|credentials|telemetry)/';
const EDGES = '^src/(proxy|injector|server|lifecycle|demo)/';
const ROOTS = '^src/(app|check|docs)/';
const CLI = '^src/cli(/|\\.ts$)';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'A cycle makes two files one unit that cannot be read, tested or moved alone.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'vocabulary-imports-nothing',
      severity: 'error',
      comment: 'The vocabulary is the bottom: every layer may import it, it imports no project file.',
      from: { path: '^src/vocabulary/' },
      to: { path: '^src/', pathNot: '^src/vocabulary/' },
    },
    {
      name: 'leaves-know-only-vocabulary',
      severity: 'error',
      comment: 'config, credentials and telemetry know no requests, no servers and not each other.',
      from: { path: '^src/(config|credentials|telemetry)/' },
      to: { path: '^src/', pathNot: ['^src/vocabulary/', '^src/$1/'] },
    },
    {
      name: 'edges-know-leaves-only',
      severity: 'error',
      comment:
        'proxy, injector, server, lifecycle and demo build on the leaves; they never import a root or each other.',
      from: { path: EDGES },
      to: {
        path: '^src/',
        pathNot: ['^src/vocabulary/', LEAVES, '^src/$1/', '^src/server/'],
      },
    },
    {
      name: 'server-lifecycle-demo-stand-alone',
      severity: 'error',
      comment:
        'listener plumbing, signal handling and the fake upstream are used by proxy and injector, not the reverse.',
      from: { path: '^src/(server|lifecycle|demo)/' },
      to: { path: '^src/(proxy|injector|server|lifecycle|demo)/', pathNot: '^src/$1/' },
    },
    {
      name: 'roots-not-cli',
      severity: 'error',
      comment: 'composition roots are wired by the CLI, never the reverse.',
      from: { path: ROOTS },
      to: { path: CLI },
    },
    {
      name: 'nothing-imports-cli',
      severity: 'error',
      comment: 'the CLI is the top.',
      from: { path: '^src/', pathNot: CLI },
      to: { path: CLI },
    },
  ],
  options: {
    // TypeScript 7 has no JS compiler API yet; swc parses TypeScript including type-only imports.
    parser: 'swc',
    tsPreCompilationDeps: true,
    includeOnly: '^src/',
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
