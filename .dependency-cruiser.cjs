/**
 * Herald's import rules, checked by `test/unit/architecture.test.ts` (part of `npm test`) and
 * by hand with `npx depcruise src providers`.
 *
 * The layers, lowest first. A module may import its own layer's folder and any layer below
 * it; never a layer above, never a sibling on the same rank (siblings are independent parts).
 * README "Architecture" explains each layer.
 */
const LAYERS = [
  /* 0 */ ['src/observability', 'src/common'],
  /* 1 */ ['src/events', 'src/api'],
  /* 2 */ ['providers'],
  /* 3 */ ['src/alerts'],
  /* 4 */ ['src/resources'],
  /* 5 */ ['src/delivery', 'src/receivers', 'src/image'],
  /* 6 */ ['src/server', 'src/image-automation.ts'],
  /* 7 */ ['src/config.ts'],
  /* 8 */ ['src/cli', 'src/serve.ts'],
  /* 9 */ ['src/main.ts'],
];

/** A regular expression matching the unit: a folder (with its subfolders) or one file. */
const unitPath = (unit) => `^${unit.replace(/[.]/g, '\\.')}${unit.endsWith('.ts') ? '$' : '/'}`;
const anyOf = (units) => units.map(unitPath).join('|');

const layerRules = LAYERS.flatMap((rank, level) =>
  rank.map((unit) => {
    const above = LAYERS.slice(level + 1).flat();
    const siblings = rank.filter((other) => other !== unit);
    return {
      name: `layer:${unit}`,
      comment: `${unit} (layer ${level}) may import only layers below it: not ${[...siblings, ...above].join(', ')}`,
      severity: 'error',
      from: { path: unitPath(unit) },
      to: { path: anyOf([...siblings, ...above]) },
    };
  }).filter((rule) => rule.to.path !== ''),
);

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'Modules import each other in a cycle: move what both need into a module below them.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-folder-cycle',
      comment: 'Two folders import each other: one of them sits on the wrong side of the other.',
      severity: 'error',
      scope: 'folder',
      from: {},
      to: { circular: true },
    },
    ...layerRules,
    {
      name: 'store-without-kubernetes',
      comment:
        'The store and the manifests directory work without Kubernetes: only source.ts (which starts the source the flags select) loads src/resources/kubernetes/.',
      severity: 'error',
      from: { path: '^src/resources/[^/]+$', pathNot: '^src/resources/source\\.ts$' },
      to: { path: '^src/resources/kubernetes/' },
    },
    {
      name: 'providers-only-contract',
      comment:
        'An adapter depends only on the contract (providers/types.ts, contract.ts), the Flux event and manifest API types, the dependency-free helpers in src/common/, and helpers in providers/.',
      severity: 'error',
      from: { path: '^providers/' },
      to: { path: '^src/', pathNot: '^src/(events|api|common)/' },
    },
    {
      name: 'no-test-code',
      comment: 'Production code never imports test or benchmark code.',
      severity: 'error',
      from: { path: '^(src|providers)/' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import that resolves to nothing (a typo, or a file moved without its importers).',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // Type-only imports count: a cycle through types is still a cycle a reader must untangle.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    includeOnly: '^(src|providers|test|bench)/',
    exclude: { path: '^dist/' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
