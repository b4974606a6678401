/** ImagePolicy tag selection: semver, alphabetical, numerical, filterTags and extract, Flux's messages. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  PolicyError,
  compilePolicy,
  expand,
  parseGoFloat,
  selectLatest,
} from '../../src/image/policy.js';
import { compareVersions, newVersion } from '../../src/image/semver.js';
import type { ImagePolicySpec } from '../../src/image/types.js';

type Spec = Pick<ImagePolicySpec, 'policy' | 'filterTags'>;

function latest(spec: Spec, tags: string[]): string {
  return selectLatest(compilePolicy(spec), tags);
}

function failure(spec: Spec, tags: string[]): PolicyError {
  try {
    latest(spec, tags);
  } catch (err) {
    if (err instanceof PolicyError) return err;
    throw err;
  }
  throw new Error('expected a PolicyError');
}

describe('selection', () => {
  const rows: [name: string, spec: Spec, tags: string[], expected: string][] = [
    ['semver: highest in range', { policy: { semver: { range: '>=1.0.0 <2.0.0' } } }, ['1.0.0', '1.9.3', '2.0.0', '1.10.0'], '1.10.0'],
    ['semver: invalid tags skipped', { policy: { semver: { range: '*' } } }, ['latest', 'main-abc', '1.2.3', 'v1.2'], '1.2.3'],
    ['semver: keeps the v prefix', { policy: { semver: { range: '^1' } } }, ['v1.0.0', 'v1.4.0', 'v2.0.0'], 'v1.4.0'],
    ['semver: tie keeps the first in list order', { policy: { semver: { range: '*' } } }, ['v1.0.0', '1.0.0', '1.0.0+b'], 'v1.0.0'],
    ['semver: prereleases need a prerelease in the range', { policy: { semver: { range: '>=1.0.0' } } }, ['1.0.0', '1.1.0-rc.1'], '1.0.0'],
    ['semver: prerelease admitted with -0', { policy: { semver: { range: '>=1.0.0-0' } } }, ['1.0.0', '1.1.0-rc.1'], '1.1.0-rc.1'],
    ['semver: rc.10 beats rc.9', { policy: { semver: { range: '>=1.0.0-0' } } }, ['1.0.0-rc.9', '1.0.0-rc.10'], '1.0.0-rc.10'],
    ['semver: rc10 loses to rc9', { policy: { semver: { range: '>=1.0.0-0' } } }, ['1.0.0-rc9', '1.0.0-rc10'], '1.0.0-rc9'],
    ['semver: date-like versions with leading zeros', { policy: { semver: { range: '>=2025.0.0' } } }, ['v2025.07.03', 'v2025.10.01'], 'v2025.10.01'],
    ['alphabetical asc picks the greatest', { policy: { alphabetical: { order: 'asc' } } }, ['a', 'c', 'b'], 'c'],
    ['alphabetical default is asc', { policy: { alphabetical: {} } }, ['a', 'c', 'b'], 'c'],
    ['alphabetical desc picks the smallest', { policy: { alphabetical: { order: 'desc' } } }, ['b', 'a', 'c'], 'a'],
    ['alphabetical is byte order: 1.9 > 1.10', { policy: { alphabetical: { order: 'asc' } } }, ['1.10', '1.9'], '1.9'],
    ['alphabetical: uppercase < _ < lowercase', { policy: { alphabetical: { order: 'asc' } } }, ['Z', '_', 'a'], 'a'],
    ['numerical asc picks the largest', { policy: { numerical: { order: 'asc' } } }, ['1', '10', '9'], '10'],
    ['numerical desc picks the smallest', { policy: { numerical: { order: 'desc' } } }, ['5', '1', '9'], '1'],
    ['numerical tie: the later tag wins', { policy: { numerical: { order: 'asc' } } }, ['1.0', '1'], '1'],
    ['numerical floats', { policy: { numerical: { order: 'asc' } } }, ['1.5', '1.25', '.75'], '1.5'],
    [
      'filter + extract + numerical: the original tag is returned',
      { policy: { numerical: { order: 'asc' } }, filterTags: { pattern: '^main-[a-f0-9]+-(?P<ts>[0-9]+)', extract: '$ts' } },
      ['main-aaa-100', 'main-bbb-300', 'feature-x-999', 'main-ccc-200', 'latest'],
      'main-bbb-300',
    ],
    [
      'filter + extract + semver',
      { policy: { semver: { range: '>=1.0.0' } }, filterTags: { pattern: '^prod-(?P<v>.*)$', extract: '${v}' } },
      ['prod-1.0.0', 'prod-1.2.0', 'dev-9.0.0'],
      'prod-1.2.0',
    ],
    [
      'filter without extract keeps the tags',
      { policy: { alphabetical: { order: 'asc' } }, filterTags: { pattern: '^rc-' } },
      ['rc-1', 'rc-3', 'zz'],
      'rc-3',
    ],
    [
      'filter is an unanchored search',
      { policy: { alphabetical: { order: 'asc' } }, filterTags: { pattern: 'prod' } },
      ['a-prod-1', 'b-dev-2'],
      'a-prod-1',
    ],
    [
      'filter with RE2 inline flags',
      { policy: { alphabetical: { order: 'asc' } }, filterTags: { pattern: '(?i)^PROD-' } },
      ['prod-1', 'dev-2'],
      'prod-1',
    ],
    [
      'extract collision: the later tag wins the key',
      { policy: { alphabetical: { order: 'asc' } }, filterTags: { pattern: '-(\\d)$', extract: '$1' } },
      ['b-1', 'a-1'],
      'a-1',
    ],
  ];
  it.each(rows)('%s', (_name, spec, tags, expected) => {
    expect(latest(spec, tags)).toBe(expected);
  });
});

describe('failures carry Flux messages', () => {
  it('nothing in range: Flux message plus why', () => {
    const err = failure({ policy: { semver: { range: '>=5.0.0' } } }, ['1.0.0', 'latest']);
    expect(err.message).toBe(
      "unable to determine latest version from provided list (1 of 2 tags are semantic versions, none in range '>=5.0.0')",
    );
    expect(err.invalidSpec).toBe(false);
  });

  it('no semantic version at all', () => {
    expect(failure({ policy: { semver: { range: '*' } } }, ['latest', 'main']).message).toBe(
      'unable to determine latest version from provided list (none of the 2 tags is a semantic version)',
    );
  });

  it('an empty list', () => {
    expect(failure({ policy: { alphabetical: {} } }, []).message).toBe('version list argument cannot be empty');
  });

  it('nothing matches filterTags.pattern', () => {
    expect(failure({ policy: { alphabetical: {} }, filterTags: { pattern: '^prod-' } }, ['a', 'b']).message).toBe(
      "version list argument cannot be empty (none of the 2 tags matches filterTags.pattern '^prod-')",
    );
  });

  it('a non-number fails the numerical policy', () => {
    expect(failure({ policy: { numerical: { order: 'asc' } } }, ['1', 'latest', '3']).message).toBe(
      "failed to parse invalid numeric value 'latest'",
    );
  });

  it.each([
    [{ policy: { semver: { range: 'foo' } } }, 'invalid policy: improper constraint: "foo"', 'spec.policy.semver.range'],
    [{ policy: {} }, 'invalid policy: given ImagePolicyChoice object is invalid', 'spec.policy'],
    [{ policy: { alphabetical: { order: 'up' as 'asc' } } }, "invalid policy: invalid order argument provided: 'UP', must be one of: ASC, DESC", 'spec.policy.alphabetical.order'],
    [
      { policy: { alphabetical: {} }, filterTags: { pattern: '(abc' } },
      "failed to filter tags: invalid regular expression pattern '(abc': error parsing regexp: missing closing ): `(abc`",
      'spec.filterTags.pattern',
    ],
    [
      { policy: { alphabetical: {} }, filterTags: { pattern: 'a(?=b)' } },
      "failed to filter tags: invalid regular expression pattern 'a(?=b)': error parsing regexp: invalid or unsupported Perl syntax: `(?=`",
      'spec.filterTags.pattern',
    ],
  ] as [Spec, string, string][])('invalid spec %#: %s', (spec, message, field) => {
    let caught: unknown;
    try {
      compilePolicy(spec);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(PolicyError);
    expect((caught as PolicyError).message).toBe(message);
    expect((caught as PolicyError).invalidSpec).toBe(true);
    expect((caught as PolicyError).field).toBe(field);
  });
});

describe("Go's Regexp.Expand", () => {
  const groups: Record<string, string> = { '0': 'whole', '1': 'one', name: 'N', '1x': 'never' };
  const lookup = (name: string) => (name === '1x' ? '' : (groups[name] ?? ''));
  it.each([
    ['$1', 'one'],
    ['${1}x', 'onex'],
    ['$1x', ''],
    ['$name-$0', 'N-whole'],
    ['${name}', 'N'],
    ['$$1', '$1'],
    ['a$', 'a$'],
    ['${1', '${1'],
    ['${}', '${}'],
    ['$-', '$-'],
    ['$missing', ''],
    ['no dollars', 'no dollars'],
  ])('%s → %s', (template, expected) => {
    expect(expand(template, lookup)).toBe(expected);
  });

  it('a non-participating group expands to empty', () => {
    const spec: Spec = { policy: { alphabetical: {} }, filterTags: { pattern: '^(a)?(b)$', extract: '[$1]$2' } };
    const compiled = compilePolicy(spec);
    expect([...(compiled.filter?.apply(['b', 'ab']).keys() ?? [])]).toEqual(['[]b', '[a]b']);
  });
});

describe("Go's strconv.ParseFloat", () => {
  it.each([
    ['1e3', 1000],
    ['010', 10],
    ['+5', 5],
    ['.5', 0.5],
    ['5.', 5],
    ['1_000', 1000],
    ['0x1p4', 16],
    ['0x1.8p1', 3],
    ['Inf', Infinity],
    ['-infinity', -Infinity],
  ])('%s → %d', (text, value) => {
    expect(parseGoFloat(text)).toBe(value);
  });
  it('NaN parses', () => expect(parseGoFloat('NaN')).toBeNaN());
  it.each(['', ' 1', '1 ', '0x10', '1__0', '_1', '1_', 'latest', '1e400', '+nan', '1.2.3', 'v1'])('%j is refused', (text) => {
    expect(parseGoFloat(text)).toBeUndefined();
  });
});

describe('properties', () => {
  const tag = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,8}$/);
  it('alphabetical: the result is a member and maximal, whatever the input order', () => {
    fc.assert(
      fc.property(fc.array(tag, { minLength: 1, maxLength: 30 }), (tags) => {
        const picked = latest({ policy: { alphabetical: { order: 'asc' } } }, tags);
        expect(tags).toContain(picked);
        expect(tags.every((t) => t <= picked)).toBe(true);
        expect(latest({ policy: { alphabetical: { order: 'asc' } } }, [...tags].reverse())).toBe(picked);
      }),
      { numRuns: 200 },
    );
  });

  it('numerical: the result is a member and no other tag is larger, whatever the input order', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -1000, max: 1000 }).map(String), { minLength: 1, maxLength: 30 }), (tags) => {
        const picked = latest({ policy: { numerical: { order: 'asc' } } }, tags);
        expect(tags).toContain(picked);
        expect(tags.every((t) => Number(t) <= Number(picked))).toBe(true);
        expect(Number(latest({ policy: { numerical: { order: 'asc' } } }, [...tags].reverse()))).toBe(Number(picked));
      }),
      { numRuns: 200 },
    );
  });

  it('filterTags: the result is an original tag that matches the pattern', () => {
    fc.assert(
      fc.property(fc.array(tag, { minLength: 1, maxLength: 30 }), (tags) => {
        const spec: Spec = { policy: { alphabetical: { order: 'asc' } }, filterTags: { pattern: '^[a-m]', extract: 'x$0' } };
        let picked: string;
        try {
          picked = latest(spec, tags);
        } catch {
          expect(tags.some((t) => /^[a-m]/.test(t))).toBe(false);
          return;
        }
        expect(tags).toContain(picked);
        expect(/^[a-m]/.test(picked)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('semver: the result is a member, in range and not below any other tag in range', () => {
    const version = fc
      .tuple(fc.nat(5), fc.nat(5), fc.nat(5), fc.constantFrom('', '-rc.1', '-alpha'), fc.constantFrom('', 'v'))
      .map(([a, b, c, pre, v]) => `${v}${a}.${b}.${c}${pre}`);
    fc.assert(
      fc.property(fc.array(version, { minLength: 1, maxLength: 20 }), (tags) => {
        const spec: Spec = { policy: { semver: { range: '>=1.0.0 <4.0.0' } } };
        let picked: string;
        try {
          picked = latest(spec, tags);
        } catch {
          // Then no release tag is in range.
          expect(tags.some((t) => !t.includes('-') && /^v?[1-3]\./.test(t))).toBe(false);
          return;
        }
        expect(tags).toContain(picked);
        expect(picked.includes('-')).toBe(false);
        expect(/^v?[1-3]\./.test(picked)).toBe(true);
        // Maximal: no release tag in range is a higher version.
        const best = newVersion(picked);
        for (const t of tags.filter((x) => !x.includes('-') && /^v?[1-3]\./.test(x))) {
          const v = newVersion(t);
          expect(best && v && compareVersions(v, best) <= 0).toBe(true);
        }
      }),
      { numRuns: 200 },
    );
  });
});
