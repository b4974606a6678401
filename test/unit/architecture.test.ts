/**
 * The import rules of `.dependency-cruiser.cjs` (README "Architecture"): no cycles between
 * modules or folders, each layer importing only the layers below it, adapters depending only
 * on the contract, no test code in production. Checked on the real tree, and on a copy with
 * planted violations to show the check catches them.
 */
import { appendFileSync, cpSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cruise, type IViolation } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';
import { describe, expect, it } from 'vitest';
import { makeTempDir } from '../support/tmp.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Every rule violation under `root`, one line each: `rule: from → to`. */
async function violations(root: string): Promise<string[]> {
  const options = await extractDepcruiseOptions(join(ROOT, '.dependency-cruiser.cjs'));
  const tsConfigFile = join(root, 'tsconfig.json');
  const { output } = await cruise(
    ['src', 'providers'],
    { ...options, validate: true, baseDir: root, tsConfig: { fileName: tsConfigFile } },
    undefined,
    { tsConfig: extractTSConfig(tsConfigFile) },
  );
  if (typeof output === 'string') throw new Error('dependency-cruiser answered with a report instead of a result');
  return output.summary.violations.map(describeViolation).sort();
}

function describeViolation(v: IViolation): string {
  const path = v.cycle?.length ? [v.from, ...v.cycle.map((step) => step.name)].join(' → ') : `${v.from} → ${v.to}`;
  return `${v.rule.name}: ${path}`;
}

describe('architecture', () => {
  it('src/ and providers/ keep the import rules', { timeout: 60_000 }, async () => {
    // A failure lists each violation: the rule's name, and the import (or cycle) breaking it.
    expect(await violations(ROOT)).toEqual([]);
  });

  it('catches an upward import, an adapter reaching into src/, a cycle, the store loading Kubernetes and test code in production', { timeout: 60_000 }, async () => {
    const copy = await makeTempDir('architecture-');
    for (const entry of ['src', 'providers', 'tsconfig.json']) cpSync(join(ROOT, entry), join(copy, entry), { recursive: true });
    mkdirSync(join(copy, 'test', 'support'), { recursive: true });
    cpSync(join(ROOT, 'test/support/tmp.ts'), join(copy, 'test/support/tmp.ts'));
    const plant = (file: string, line: string) => appendFileSync(join(copy, file), `\n${line}\n`);

    // Pure matching reaching up into the delivery queue.
    plant('src/alerts/compile.ts', "export type { DeliveryQueue as Planted } from '../delivery/queue.js';");
    // An adapter reaching into the resource store.
    plant('providers/generic.ts', "export type { ResourceStore as Planted } from '../src/resources/store.js';");
    // The wire format imports the event, and now the event the wire format.
    plant('src/events/event.ts', "export { fluxEventJson as planted } from './wire.js';");
    // The store depending on the Kubernetes source.
    plant('src/resources/store.ts', "export type { AlertRef as Planted } from './kubernetes/event-reasons.js';");
    // A listener importing a test helper.
    plant('src/server/ops.ts', "export { makeTempDir as planted } from '../../test/support/tmp.js';");

    const found = await violations(copy);
    expect(found).toEqual(
      expect.arrayContaining([
        'layer:src/alerts: src/alerts/compile.ts → src/delivery/queue.ts',
        'layer:providers: providers/generic.ts → src/resources/store.ts',
        'providers-only-contract: providers/generic.ts → src/resources/store.ts',
        expect.stringMatching(/^no-circular: src\/events\/(event|wire)\.ts → src\/events\/(wire|event)\.ts → /),
        'no-test-code: src/server/ops.ts → test/support/tmp.ts',
        'store-without-kubernetes: src/resources/store.ts → src/resources/kubernetes/event-reasons.ts',
        expect.stringMatching(/^no-folder-cycle: /),
      ]),
    );
  });
});
