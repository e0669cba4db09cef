// The layers of src/, lowest first: a module may import from its own folder and from folders listed
// before its own, never from one listed after. Every folder has a place of its own, so folders can
// form no cycle; `no-circular` rules out cycles between files, type-only imports included.
// test/unit/architecture.test.ts runs this in `npm test`; `npx depcruise src` shows it by hand.
const LAYERS = [
  // the base: process execution, located YAML, the error catalogue, contracts, the context
  '(errors|contract|context)\\.ts',
  'exec',
  'yaml',
  // what the domain stands on: caches, the hub, toolchains, recipes, artifact folders
  'cache',
  'hub',
  'toolchain',
  'recipe',
  'artifact',
  // what the backends own, what validation does, and how results are shown
  'backends',
  'validate',
  'report',
  // the build: steps, pipelines that plan them, the engine that runs plans
  'steps',
  'pipeline',
  'engine',
  // the CI workflow phiforge writes and the matrix its plan job expands
  'ci',
  // use cases, then the command line
  'app',
  'cli',
];

const folder = (layer) => (layer.includes('\\.ts') ? `^src/${layer}$` : `^src/${layer}/`);

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A cycle between modules (type-only imports count) means two of them are one concept, or one is in the wrong place.',
      from: {},
      to: { circular: true },
    },
    ...LAYERS.map((layer, index) => ({
      name: `layer-${layer.replace(/[^a-z]/g, '') || 'base'}`,
      severity: 'error',
      comment: `src/${layer} may only import from layers below it: ${LAYERS.slice(0, index).join(', ') || 'none'}.`,
      from: { path: folder(layer) },
      to: { path: LAYERS.slice(index + 1).map(folder) },
    })).filter((rule) => rule.to.path.length > 0),
    {
      name: 'no-unknown-folder',
      severity: 'error',
      comment: 'Every module of src/ belongs to a layer: add a new folder to LAYERS in .dependency-cruiser.cjs.',
      from: { path: '^src/', pathNot: LAYERS.map(folder) },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    // Type-only imports are dependencies too.
    exclude: { path: '^(node_modules|lib|test)' },
  },
};
