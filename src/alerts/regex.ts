/**
 * User regexes (Alert `inclusionList` / `exclusionList`) compiled with Go's RE2 syntax.
 *
 * Flux compiles these with Go's `regexp` package, so Herald must accept exactly RE2 syntax
 * (no look-arounds, no back-references) and must not be open to catastrophic backtracking:
 * a message is attacker-influenced text. re2js is a JavaScript port of RE2 that matches in
 * time linear in the input.
 */
import { RE2JS, RE2JSSyntaxException } from 're2js';
import { errorMessage } from '../common/errors.js';

export interface CompiledRegex {
  /** The pattern as the user wrote it. */
  readonly source: string;
  /** True when the pattern matches anywhere in `text` (Go's `regexp.MatchString`). */
  test(text: string): boolean;
}

export type RegexCompilation = { ok: true; regex: CompiledRegex } | { ok: false; error: string };

export function compileRegex(pattern: string): RegexCompilation {
  let compiled: RE2JS;
  try {
    // Flags 0: Perl-like RE2 syntax, the same dialect as Go's regexp.Compile.
    compiled = RE2JS.compile(pattern, 0);
  } catch (err) {
    return { ok: false, error: describeCompileError(err) };
  }
  return {
    ok: true,
    regex: {
      source: pattern,
      // `test` is an unanchored search, not a whole-input match.
      test: (text) => compiled.test(text),
    },
  };
}

/** The syntax error without re2js' "error parsing regexp:" preamble, e.g. `missing closing )`. */
function describeCompileError(err: unknown): string {
  if (err instanceof RE2JSSyntaxException) return err.getDescription();
  return errorMessage(err);
}
