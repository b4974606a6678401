import fc from 'fast-check';
import { RE2JS } from 're2js';
import { describe, expect, it } from 'vitest';
import { compileRegex } from '../../src/alerts/regex.js';

function mustCompile(pattern: string) {
  const result = compileRegex(pattern);
  if (!result.ok) throw new Error(`expected ${pattern} to compile: ${result.error}`);
  return result.regex;
}

describe('compileRegex: Go RE2 semantics', () => {
  it.each([
    // [why, pattern, text, matches]
    ['matches anywhere, like regexp.MatchString', 'succeeded', 'Helm upgrade succeeded for release', true],
    ['is case sensitive by default', 'Succeeded', 'upgrade succeeded', false],
    ['honours (?i)', '(?i)SUCCEEDED', 'upgrade succeeded', true],
    ['anchors to the whole text, not lines', '^b', 'a\nb', false],
    ['honours (?m) for line anchors', '(?m)^b$', 'a\nb', true],
    ['dot does not match newline by default', 'a.b', 'a\nb', false],
    ['honours (?s)', '(?s)a.b', 'a\nb', true],
    ['supports Unicode classes', '^\\p{Greek}+$', 'αβγ', true],
    ['supports POSIX classes', '^[[:digit:]]+$', '2026', true],
    ['supports Go named groups', '(?P<verb>install|upgrade) succeeded', 'upgrade succeeded', true],
    ['supports \\Q…\\E literals', '\\Q1.2.3\\E', 'chart 1x2x3', false],
    ['treats a rune as one character', '^.$', '😀', true],
    ['matches the empty pattern everywhere', '', 'anything', true],
  ])('%s', (_why, pattern, text, matches) => {
    expect(mustCompile(pattern).test(text)).toBe(matches);
  });

  it('keeps the pattern as written', () => {
    expect(mustCompile('waiting.*socket').source).toBe('waiting.*socket');
  });

  it.each([
    // [pattern, error]: syntax that Go's regexp rejects
    ['(', 'missing closing )'],
    ['a[', 'missing closing ]'],
    ['\\', 'trailing backslash at end of expression'],
    ['(?=a)', 'invalid or unsupported Perl syntax'],
    ['(a)\\1', 'invalid escape sequence'],
    ['a**', 'invalid nested repetition operator'],
    ['x{1001}', 'invalid repeat count'],
    ['[z-a]', 'invalid character class range'],
  ])('rejects %j with "%s"', (pattern, error) => {
    const result = compileRegex(pattern);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toBe(error);
  });

  it('runs catastrophic-backtracking patterns in linear time', () => {
    const text = `${'a'.repeat(50_000)}!`;
    for (const pattern of ['(a+)+$', '(a|aa)+$', '(a*)*b', '^(([a-z])+.)+[A-Z]([a-z])+$']) {
      const regex = mustCompile(pattern);
      const started = performance.now();
      expect(regex.test(text)).toBe(false);
      expect(performance.now() - started).toBeLessThan(2_000);
    }
  });

  it('finds any quoted literal inside surrounding text', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), (before, literal, after) => {
        expect(mustCompile(RE2JS.quote(literal)).test(before + literal + after)).toBe(true);
      }),
    );
  });
});
