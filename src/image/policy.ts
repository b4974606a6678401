/**
 * ImagePolicy tag selection as Flux's image-reflector-controller does it (internal/policy):
 * a semver range (highest matching version, tags that are not versions skipped),
 * alphabetical or numerical order, after an optional `filterTags` regex (Go RE2) whose
 * `extract` template (Go `Regexp.Expand`) turns each matching tag into the value compared.
 *
 * Errors carry Flux's messages, so Alerts that match on them keep working; when nothing is
 * selected, a parenthesised explanation follows Flux's message (how many tags were looked at,
 * how many were not versions, what the range or pattern was).
 */
import { RE2JS, RE2JSException, type Matcher } from 're2js';
import { compareVersions, parseConstraints, parseTagVersion, satisfies, type Constraints, type Version } from './semver.js';
import type { ImagePolicySpec } from './types.js';

export class PolicyError extends Error {
  override readonly name = 'PolicyError';
  constructor(
    message: string,
    /** An invalid spec (Flux stalls: retrying cannot help) rather than a selection failure. */
    readonly invalidSpec: boolean,
    /** The spec field at fault, for validation messages. */
    readonly field?: string,
  ) {
    super(message);
  }
}

export interface Policer {
  /** Picks the latest of `tags`; throws a `PolicyError` (never an invalid-spec one) when it cannot. */
  latest(tags: readonly string[]): string;
}

const EMPTY_LIST = 'version list argument cannot be empty';

/** Semver: the highest version in range; on a tie the first in list order (strict `>`). */
export function semverPolicer(range: string): Policer {
  let constraints: Constraints;
  try {
    constraints = parseConstraints(range);
  } catch (err) {
    throw new PolicyError(`invalid policy: ${(err as Error).message}`, true, 'spec.policy.semver.range');
  }
  return {
    latest(tags) {
      if (tags.length === 0) throw new PolicyError(EMPTY_LIST, false);
      let best: Version | undefined;
      let versions = 0;
      for (const tag of tags) {
        const v = parseTagVersion(tag);
        if (!v) continue;
        versions++;
        if (satisfies(v, constraints) && (!best || compareVersions(v, best) > 0)) best = v;
      }
      if (best) return best.original;
      const why =
        versions === 0
          ? `none of the ${tags.length} tags is a semantic version`
          : `${versions} of ${tags.length} tags are semantic versions, none in range '${range}'`;
      throw new PolicyError(`unable to determine latest version from provided list (${why})`, false);
    },
  };
}

function normaliseOrder(order: string | undefined, field: string): 'ASC' | 'DESC' {
  const upper = (order ?? '').toUpperCase();
  if (upper === '' || upper === 'ASC') return 'ASC';
  if (upper === 'DESC') return 'DESC';
  throw new PolicyError(`invalid policy: invalid order argument provided: '${upper}', must be one of: ASC, DESC`, true, field);
}

/** Go byte order of strings (tags are ASCII, where UTF-16 order is the same). */
function byteCompare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Alphabetical: `ASC` picks the greatest, `DESC` the smallest, in Go's byte order. */
export function alphabeticalPolicer(order?: string): Policer {
  const o = normaliseOrder(order, 'spec.policy.alphabetical.order');
  return {
    latest(tags) {
      if (tags.length === 0) throw new PolicyError(EMPTY_LIST, false);
      const sorted = [...tags].sort(byteCompare);
      return (o === 'ASC' ? sorted[sorted.length - 1] : sorted[0]) as string;
    },
  };
}

/**
 * Numerical: every tag must be a number to Go's `strconv.ParseFloat` (a `latest` tag fails the
 * whole policy, as in Flux); `ASC` picks the largest, `DESC` the smallest; on a tie the later
 * tag in list order wins.
 */
export function numericalPolicer(order?: string): Policer {
  const o = normaliseOrder(order, 'spec.policy.numerical.order');
  return {
    latest(tags) {
      if (tags.length === 0) throw new PolicyError(EMPTY_LIST, false);
      let latest = '';
      let previous = 0;
      tags.forEach((tag, i) => {
        const value = parseGoFloat(tag);
        if (value === undefined) throw new PolicyError(`failed to parse invalid numeric value '${tag}'`, false);
        if (i > 0 && ((o === 'ASC' && value < previous) || (o === 'DESC' && value > previous))) return;
        latest = tag;
        previous = value;
      });
      return latest;
    },
  };
}

const GO_DECIMAL_FLOAT = /^[+-]?(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?$/;
const GO_HEX_FLOAT = /^[+-]?0[xX](?:_?[0-9a-fA-F])*(?:\.[0-9a-fA-F](?:_?[0-9a-fA-F])*|\.)?[pP][+-]?\d(?:_?\d)*$/;
const GO_SPECIAL_FLOAT = /^(?:[+-]?(?:inf|infinity)|nan)$/i;

/**
 * Go's `strconv.ParseFloat(s, 64)`: decimal with optional exponent, hexadecimal with a
 * mandatory `p` exponent, `Inf`/`Infinity` (signed) and `NaN`, single underscores between
 * digits. Out-of-range values are errors in Go; `1e400` is therefore refused here too.
 */
export function parseGoFloat(text: string): number | undefined {
  if (GO_SPECIAL_FLOAT.test(text)) {
    const lower = text.toLowerCase();
    if (lower.endsWith('nan')) return Number.NaN;
    return lower.startsWith('-') ? -Infinity : Infinity;
  }
  if (GO_DECIMAL_FLOAT.test(text)) {
    const value = Number(text.replace(/_/g, ''));
    return Number.isFinite(value) ? value : undefined;
  }
  if (GO_HEX_FLOAT.test(text)) return parseHexFloat(text.replace(/_/g, ''));
  return undefined;
}

function parseHexFloat(text: string): number | undefined {
  const m = /^([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?[pP]([+-]?\d+)$/.exec(text);
  if (!m) return undefined;
  const [, sign, int = '', frac = '', exp = '0'] = m;
  if (int === '' && frac === '') return undefined;
  const mantissa = parseInt(int || '0', 16) + (frac ? parseInt(frac, 16) / 16 ** frac.length : 0);
  const value = mantissa * 2 ** Number(exp);
  if (!Number.isFinite(value)) return undefined;
  return sign === '-' ? -value : value;
}

/** Builds the policer of `spec.policy`; throws an invalid-spec `PolicyError` with Flux's message. */
export function policerFromSpec(policy: ImagePolicySpec['policy'] | undefined): Policer {
  if (policy?.semver) return semverPolicer(policy.semver.range);
  if (policy?.alphabetical) return alphabeticalPolicer(policy.alphabetical.order);
  if (policy?.numerical) return numericalPolicer(policy.numerical.order);
  throw new PolicyError('invalid policy: given ImagePolicyChoice object is invalid', true, 'spec.policy');
}

// ---------------------------------------------------------------------------------------------
// filterTags

export interface TagFilter {
  readonly pattern: string;
  /**
   * The tags that match, as `value → original tag`: value is the `extract` expansion, or the
   * tag itself without `extract`. On a value shared by several tags the later one wins.
   */
  apply(tags: readonly string[]): Map<string, string>;
}

/** Compiles `filterTags`; throws an invalid-spec `PolicyError` with Flux's message on a bad pattern. */
export function compileTagFilter(pattern: string, extract = ''): TagFilter {
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern);
  } catch (err) {
    const cause = err instanceof RE2JSException ? err.message : String(err);
    throw new PolicyError(
      `failed to filter tags: invalid regular expression pattern '${pattern}': ${cause}`,
      true,
      'spec.filterTags.pattern',
    );
  }
  const names = re.namedGroups();
  return {
    pattern,
    apply(tags) {
      const out = new Map<string, string>();
      for (const tag of tags) {
        const m = re.matcher(tag);
        if (!m.find()) continue;
        out.set(extract === '' ? tag : expandTemplate(extract, m, re.groupCount(), names), tag);
      }
      return out;
    },
  };
}

/** Go's `Regexp.Expand` over one match: `$1`, `$name`, `${name}`, `$$`. */
function expandTemplate(template: string, m: Matcher, groupCount: number, names: Record<string, number>): string {
  return expand(template, (name) => {
    let index: number | undefined;
    if (/^[0-9]+$/.test(name)) {
      // Go reads an all-digit name as an index, as big as it gets; out of range → empty.
      index = name.length > 9 ? undefined : Number(name);
    } else {
      index = names[name];
    }
    if (index === undefined || index > groupCount) return '';
    return m.start(index) < 0 ? '' : (m.group(index) ?? '');
  });
}

/**
 * The template language of Go's `Regexp.Expand`: `$$` is a `$`; `$name` takes the longest run
 * of letters, digits and `_`; `${name}` is braced; a `$` not followed by a valid name is kept
 * literally (as Go copies it and continues after it).
 */
export function expand(template: string, group: (name: string) => string): string {
  let out = '';
  let rest = template;
  for (;;) {
    const dollar = rest.indexOf('$');
    if (dollar < 0) break;
    out += rest.slice(0, dollar);
    rest = rest.slice(dollar);
    if (rest.startsWith('$$')) {
      out += '$';
      rest = rest.slice(2);
      continue;
    }
    const name = extractName(rest);
    if (!name) {
      // Malformed: the `$` is kept and scanning resumes after it.
      out += '$';
      rest = rest.slice(1);
      continue;
    }
    out += group(name.name);
    rest = rest.slice(name.length);
  }
  return out + rest;
}

function extractName(text: string): { name: string; length: number } | undefined {
  // text starts with `$`.
  const braced = text[1] === '{';
  const start = braced ? 2 : 1;
  let end = start;
  while (end < text.length && /[A-Za-z0-9_]/.test(text[end] as string)) end++;
  if (end === start) return undefined;
  if (braced) {
    if (text[end] !== '}') return undefined;
    return { name: text.slice(start, end), length: end + 1 };
  }
  return { name: text.slice(start, end), length: end };
}

// ---------------------------------------------------------------------------------------------
// The whole selection

export interface CompiledPolicy {
  policer: Policer;
  filter?: TagFilter;
}

/** Compiles `spec.policy` and `spec.filterTags`; throws an invalid-spec `PolicyError`. */
export function compilePolicy(spec: Pick<ImagePolicySpec, 'policy' | 'filterTags'>): CompiledPolicy {
  const policer = policerFromSpec(spec.policy);
  const filter = spec.filterTags ? compileTagFilter(spec.filterTags.pattern ?? '', spec.filterTags.extract ?? '') : undefined;
  return { policer, filter };
}

/**
 * The latest tag of `tags` (in the descending order the scan stored them). With a filter the
 * policer sees the extracted values in descending byte order (Go iterates a map, in random
 * order; a fixed order makes ties deterministic) and the original tag is returned.
 */
export function selectLatest(compiled: CompiledPolicy, tags: readonly string[]): string {
  if (!compiled.filter) return compiled.policer.latest(tags);
  const matched = compiled.filter.apply(tags);
  if (matched.size === 0) {
    throw new PolicyError(
      `${EMPTY_LIST} (none of the ${tags.length} tags matches filterTags.pattern '${compiled.filter.pattern}')`,
      false,
    );
  }
  const values = [...matched.keys()].sort((a, b) => byteCompare(b, a));
  return matched.get(compiled.policer.latest(values)) as string;
}
