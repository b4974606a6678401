/**
 * The Masterminds/semver v3 port: constraint semantics as Flux's ImagePolicy applies them, with
 * the rows where npm `semver` answers differently named as such.
 */
import { describe, expect, it } from 'vitest';
import {
  compareVersions,
  goQuote,
  newVersion,
  parseConstraints,
  parseTagVersion,
  satisfies,
  strictNewVersion,
} from '../../src/image/semver.js';

function check(range: string, version: string): boolean {
  const v = parseTagVersion(version) ?? newVersion(version);
  if (!v) throw new Error(`test version ${version} does not parse`);
  return satisfies(v, parseConstraints(range));
}

describe('constraint checks (Masterminds semantics)', () => {
  const rows: [name: string, range: string, version: string, expected: boolean][] = [
    ['exact', '1.2.3', '1.2.3', true],
    ['exact with =', '=1.2.3', '1.2.4', false],
    ['v prefix in the range', 'v1.2.3', '1.2.3', true],
    ['build metadata is ignored', '1.2.3', '1.2.3+build.5', true],
    ['>= release', '>=1.0.0', '1.5.0', true],
    ['>= excludes prereleases when no constraint names one', '>=1.0.0', '1.5.0-rc.1', false],
    ['< excludes the prerelease of its own version without a prerelease in the group', '<1.0.0', '1.0.0-rc.1', false],
    ['npm differs: a prerelease in the group admits prereleases of any version (npm: only 1.0.0-x)', '>=1.0.0-0', '1.1.0-rc.1', true],
    ['npm differs: >=1.0.0-alpha admits 2.0.0-beta (npm: no)', '>=1.0.0-alpha', '2.0.0-beta', true],
    ['npm differs: prerelease admitted for every constraint of the AND group (npm: no)', '>= 1.0.0-alpha < 2.0.0', '1.5.0-beta', true],
    ['the prerelease admission is per OR group', '>=1.0.0 || >=2.0.0-0', '2.1.0-alpha', true],
    ['a prerelease must still satisfy the range', '>= 1.0.0-alpha < 2.0.0', '3.0.0-beta', false],
    ['npm differs: comma is AND (npm: not a valid range)', '>=1.0.0, <2.0.0', '1.5.0', true],
    ['comma AND upper bound', '>=1.0.0, <2.0.0', '2.0.0', false],
    ['space AND', '>=1.0.0 <2.0.0', '2.0.0', false],
    ['OR', '<1.0.0 || >=3.0.0', '3.1.0', true],
    ['OR neither', '<1.0.0 || >=3.0.0', '2.0.0', false],
    ['npm differs: != is an operator (npm: not a valid range)', '!=1.2.3', '1.2.4', true],
    ['!= equal', '!=1.2.3', '1.2.3', false],
    ['!= with patch wildcard', '!=1.2.x', '1.2.5', false],
    ['!= with patch wildcard, other minor', '!=1.2.x', '1.3.0', true],
    ['!= with minor wildcard', '!=1.x', '1.5.0', false],
    ['!= with minor wildcard, other major', '!=1.x', '2.0.0', true],
    ['npm differs: => is >= (npm: not a valid range)', '=>1.0.0', '1.0.0', true],
    ['npm differs: =< is <= (npm: not a valid range)', '=<1.0.0', '1.0.1', false],
    ['tilde', '~1.2.3', '1.2.9', true],
    ['tilde upper bound', '~1.2.3', '1.3.0', false],
    ['tilde major only', '~1', '1.9.9', true],
    ['tilde major only, next major', '~1', '2.0.0', false],
    ['~> is tilde', '~>1.2', '1.2.7', true],
    ['~0.0.0 accepts everything', '~0.0.0', '5.0.0', true],
    ['caret', '^1.2.3', '1.9.0', true],
    ['caret next major', '^1.2.3', '2.0.0', false],
    ['caret below', '^1.2.3', '1.2.2', false],
    ['caret 0.y', '^0.2.3', '0.2.9', true],
    ['caret 0.y next minor', '^0.2.3', '0.3.0', false],
    ['caret 0.0.z is exact', '^0.0.3', '0.0.4', false],
    ['caret 0.0 keeps the minor', '^0.0', '0.0.9', true],
    ['caret 0.0, next minor', '^0.0', '0.1.0', false],
    ['caret 0 keeps the major', '^0', '0.9.0', true],
    ['caret 0, next major', '^0', '1.0.0', false],
    ['x-range', '1.x', '1.9.0', true],
    ['x-range next major', '1.x', '2.0.0', false],
    ['X and * wildcards', '1.2.X', '1.2.7', true],
    ['star', '*', '1.0.0', true],
    ['star excludes prereleases', '*', '1.0.0-rc.1', false],
    ['prerelease on a wildcard admits prereleases', '1.x-0', '1.5.0-rc.1', true],
    ['> with a partial version: >1.0 needs minor above 0', '>1.0', '1.0.5', false],
    ['> with a partial version: >1.0 takes 1.1.0', '>1.0', '1.1.0', true],
    ['>11 is not satisfied by 11.1.0', '>11', '11.1.0', false],
    ['>11 is satisfied by 12.0.0', '>11', '12.0.0', true],
    ['<= with a partial version includes the whole minor', '<=1.2', '1.2.9', true],
    ['<= with a partial version excludes the next minor', '<=1.2', '1.3.0', false],
    ['hyphen range', '1.2.3 - 2.3.4', '2.3.4', true],
    ['hyphen range above', '1.2.3 - 2.3.4', '2.3.5', false],
    ['hyphen range with partial upper bound keeps it partial', '1 - 2', '2.5.0', true],
    ['whitespace around operators', '>= 1.0.0 , < 2', '1.9.0', true],
  ];
  it.each(rows)('%s: %s ∋ %s → %s', (_name, range, version, expected) => {
    expect(check(range, version)).toBe(expected);
  });
});

describe('constraint parse errors', () => {
  it.each([
    ['npm differs: the empty range is an error (npm: any version)', '', 'improper constraint: ""'],
    ['a word', 'foo', 'improper constraint: "foo"'],
    ['an empty OR branch', '>=1.0.0 ||', 'improper constraint: ""'],
    ['a dangling operator', '>=', 'improper constraint: ">="'],
    ['control characters are quoted as Go does', 'a\tb', 'improper constraint: "a\\tb"'],
  ])('%s', (_name, range, message) => {
    expect(() => parseConstraints(range)).toThrow(message);
  });
});

describe('version parsing', () => {
  const tags: [tag: string, parses: boolean][] = [
    ['1.2.3', true],
    ['v1.2.3', true],
    ['npm differs: leading zeros v2025.07.03 (npm: invalid)', true],
    ['v1.0', false],
    ['v1', false],
    ['v1.2.3.4', false],
    ['v1.2.beta', false],
    ['v1.2-beta5', false],
    ['1.2-beta.5', true],
    ['v1.2.0-x.Y.0+metadata', true],
    ['v1.2.3-rc1-with-hyphen', true],
    ['1.0.0-01', false],
    ['vv1.0.0', false],
    ['latest', false],
    ['\nv1.2.3', false],
    ['18446744073709551616.0.0', false],
  ];
  it.each(tags)('tag %s parses: %s', (label, parses) => {
    const tag = label.startsWith('npm differs') ? 'v2025.07.03' : label;
    expect(parseTagVersion(tag) !== undefined).toBe(parses);
  });

  it('1.2-beta.5 is read as 1.2.0-beta.5 (three dot parts, then the lenient parser)', () => {
    expect(parseTagVersion('1.2-beta.5')).toMatchObject({ major: 1n, minor: 2n, patch: 0n, pre: 'beta.5' });
  });

  it('the strict parser refuses what the lenient one accepts', () => {
    expect(strictNewVersion('1.2.3')).toBeDefined();
    expect(strictNewVersion('v1.2.3')).toBeUndefined();
    expect(strictNewVersion('01.2.3')).toBeUndefined();
    expect(newVersion('01.2.3')).toBeDefined();
    expect(strictNewVersion('1.2')).toBeUndefined();
    expect(newVersion('1.2')).toMatchObject({ major: 1n, minor: 2n, patch: 0n });
  });
});

describe('precedence', () => {
  const order: [a: string, b: string, expected: number][] = [
    ['1.0.0', '1.0.0-rc.1', 1],
    ['1.0.0-rc.10', '1.0.0-rc.9', 1],
    ['1.0.0-rc10 sorts below rc9 (alphanumeric identifiers compare as strings)', '1.0.0-rc9', -1],
    ['1.0.0-alpha', '1.0.0-alpha.1', -1],
    ['1.0.0-alpha.1', '1.0.0-alpha.beta', -1],
    ['1.0.0+a', '1.0.0+b', 0],
    ['v1.0.0', '1.0.0', 0],
    ['2.0.0', '10.0.0', -1],
  ];
  it.each(order)('%s vs %s → %i', (a, b, expected) => {
    const first = newVersion(a.split(' ')[0] ?? '');
    const second = newVersion(b);
    expect(first && second && compareVersions(first, second)).toBe(expected);
  });
});

describe('goQuote', () => {
  it.each([
    ['abc', '"abc"'],
    ['a"b\\c', '"a\\"b\\\\c"'],
    ['\u0001', '"\\x01"'],
    ['é', '"é"'],
    ['\u200b', '"\\u200b"'],
  ])('%j → %s', (text, quoted) => {
    expect(goQuote(text)).toBe(quoted);
  });
});
