/**
 * Plain manifests are read by `js-yaml` (ten times faster), everything else by `yaml`: both
 * must load the same objects and report the same problems wherever the fast path applies.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseAnyManifests, parseManifests, parsePlainManifests } from '../../src/resources/manifests.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return yamlFiles(path);
    return /\.ya?ml$/.test(name) ? [path] : [];
  });
}

describe('the plain-YAML fast path', () => {
  it("loads every example and fixture manifest it takes exactly as the full parser does", () => {
    const files = [...yamlFiles(join(ROOT, 'examples')), ...yamlFiles(join(ROOT, 'test', 'fixtures'))];
    let taken = 0;
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      const fast = parsePlainManifests(text, file);
      if (!fast) continue;
      taken++;
      expect(fast, file).toEqual(parseAnyManifests(text, file));
    }
    expect(taken).toBeGreaterThan(5);
  });

  it('resolves scalars as YAML 1.2 core does, and leaves tags, anchors, directives and errors to the full parser', () => {
    // An ImageRepository's spec is kept as written: its values show how they were read.
    const doc = (value: string) => `apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata:\n  name: x\nspec:\n  v: ${value}\n`;
    for (const scalar of ['yes', 'no', 'on', 'True', 'NULL', '~', '0o17', '017', '0x1F', '1_000', '0b101', '+12', '-.5', '1e3', '.inf', '-.Inf', '.NaN', '2001-12-14', '12:30', "''", '"a: b"']) {
      expect(parsePlainManifests(doc(scalar), 'f.yaml'), scalar).toEqual(parseAnyManifests(doc(scalar), 'f.yaml'));
    }
    expect(parsePlainManifests(doc('yes'), 'f.yaml')?.objects[0]).toMatchObject({ spec: { v: 'yes' } });
    expect(parsePlainManifests(doc('0x1F'), 'f.yaml')?.objects[0]).toMatchObject({ spec: { v: 31 } });
    expect(parsePlainManifests('a: !!binary aGk=\n', 'f.yaml')).toBeUndefined();
    expect(parsePlainManifests('a: &x 1\nb: *x\n', 'f.yaml')).toBeUndefined();
    expect(parsePlainManifests('%YAML 1.1\n---\na: yes\n', 'f.yaml')).toBeUndefined();
    expect(parsePlainManifests('a: *x\n', 'f.yaml')).toBeUndefined();
    expect(parsePlainManifests('a: 1\na: 2\n', 'f.yaml')).toBeUndefined();
    expect(parsePlainManifests('a: [1\n', 'f.yaml')).toBeUndefined();
    // Which the full parser reports as before.
    expect(parseManifests('a: 1\na: 2\n', 'f.yaml').problems[0]?.message).toMatch(/^invalid YAML at line 2, column 1: DUPLICATE_KEY/);
  });

  it('agrees with the full parser on any JSON-like value, whatever style the YAML writes it in', () => {
    const value = fc.jsonValue({ maxDepth: 4 });
    const style = fc.constantFrom<'PLAIN' | 'QUOTE_DOUBLE' | 'QUOTE_SINGLE' | 'BLOCK_LITERAL' | 'BLOCK_FOLDED'>('PLAIN', 'QUOTE_DOUBLE', 'QUOTE_SINGLE', 'BLOCK_LITERAL', 'BLOCK_FOLDED');
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 3 }), style, fc.boolean(), (docs, defaultStringType, collectionFlow) => {
        const text = docs
          .map((spec) => stringify({ apiVersion: 'image.toolkit.fluxcd.io/v1', kind: 'ImageRepository', metadata: { name: 'x' }, spec: { value: spec } }, { defaultStringType, collectionStyle: collectionFlow ? 'flow' : 'block' }))
          .join('---\n');
        const fast = parsePlainManifests(text, 'f.yaml');
        if (fast) expect(fast).toEqual(parseAnyManifests(text, 'f.yaml'));
      }),
      { numRuns: 300 },
    );
  });
});
