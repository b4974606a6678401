/**
 * Semantic versions and version constraints with the semantics of Masterminds/semver v3.5
 * (the library Flux's image-reflector-controller uses), not npm `semver`'s. The differences
 * that reach users of ImagePolicy:
 *
 * - A prerelease satisfies an AND group only when some constraint of that group names a
 *   prerelease (any version tuple); then every constraint of the group accepts prereleases.
 *   npm only admits prereleases of the very `[major, minor, patch]` a comparator names.
 * - `,` separates ANDed constraints as well as whitespace; `!=`, `=>` and `=<` are operators.
 * - The empty range is an error (npm: any version).
 * - A bare or `=` version with a wildcard (`1.2.x`, `=1`) means `~`.
 * - `>1.0` means "minor greater than 0", `<=1.2` means "up to any 1.2.x".
 * - Hyphen ranges `A - B` become `>= A, <= B` with the partial versions kept partial.
 *
 * Tags are parsed as fluxcd/pkg `version.ParseVersion` does: at least three dot-separated parts,
 * then Masterminds' lenient `NewVersion` (optional `v`, leading zeros allowed in the numbers,
 * prerelease identifiers validated).
 */

export interface Version {
  major: bigint;
  minor: bigint;
  patch: bigint;
  /** Prerelease without the `-`; empty when none. */
  pre: string;
  /** Build metadata without the `+`; empty when none. Ignored by comparison. */
  metadata: string;
  /** The text the version was parsed from (keeps a `v` prefix). */
  original: string;
}

const MAX_UINT64 = (1n << 64n) - 1n;

// Go's `\s` is ASCII-only: [\t\n\f\r ].
const S = '[\\t\\n\\f\\r ]';

const LOOSE_VERSION = new RegExp(
  '^v?([0-9]+)(\\.[0-9]+)?(\\.[0-9]+)?' +
    '(-([0-9A-Za-z\\-]+(\\.[0-9A-Za-z\\-]+)*))?' +
    '(\\+([0-9A-Za-z\\-]+(\\.[0-9A-Za-z\\-]+)*))?$',
);

const ALLOWED_IDENTIFIER = /^[0-9A-Za-z-]+$/;
const DIGITS = /^[0-9]+$/;

/** A base-10 unsigned 64-bit integer as Go's `strconv.ParseUint` reads it, or undefined. */
function parseUint64(text: string): bigint | undefined {
  if (!DIGITS.test(text)) return undefined;
  const value = BigInt(text);
  return value <= MAX_UINT64 ? value : undefined;
}

function validPrerelease(pre: string): boolean {
  return pre.split('.').every((part) => {
    if (part === '') return false;
    if (DIGITS.test(part)) return !(part.length > 1 && part.startsWith('0'));
    return ALLOWED_IDENTIFIER.test(part);
  });
}

function validMetadata(metadata: string): boolean {
  return metadata.split('.').every((part) => part !== '' && ALLOWED_IDENTIFIER.test(part));
}

/**
 * Masterminds' `NewVersion` (coercing mode, its default): `v` prefix optional, minor and patch
 * optional (`1` is 1.0.0), leading zeros allowed in the three numbers.
 */
export function newVersion(text: string): Version | undefined {
  const m = LOOSE_VERSION.exec(text);
  if (!m) return undefined;
  const major = parseUint64(m[1] ?? '');
  const minor = m[2] ? parseUint64(m[2].slice(1)) : 0n;
  const patch = m[3] ? parseUint64(m[3].slice(1)) : 0n;
  if (major === undefined || minor === undefined || patch === undefined) return undefined;
  const pre = m[5] ?? '';
  const metadata = m[8] ?? '';
  if (pre !== '' && !validPrerelease(pre)) return undefined;
  if (metadata !== '' && !validMetadata(metadata)) return undefined;
  return { major, minor, patch, pre, metadata, original: text };
}

/**
 * Masterminds' `StrictNewVersion`: exactly `MAJOR.MINOR.PATCH[-pre][+build]`, no `v`, no
 * leading zeros. Herald does not select tags with it (Flux does not); it is here because the
 * difference between the two parsers is what users trip over, and the tests show it.
 */
export function strictNewVersion(text: string): Version | undefined {
  if (text === '') return undefined;
  const parts = splitN(text, '.', 3);
  if (parts.length !== 3) return undefined;
  let last = parts[2] ?? '';
  let metadata = '';
  let pre = '';
  const plus = last.indexOf('+');
  if (plus >= 0) {
    metadata = last.slice(plus + 1);
    last = last.slice(0, plus);
    if (!validMetadata(metadata)) return undefined;
  }
  const dash = last.indexOf('-');
  if (dash >= 0) {
    pre = last.slice(dash + 1);
    last = last.slice(0, dash);
    if (!validPrerelease(pre)) return undefined;
  }
  const numbers = [parts[0] ?? '', parts[1] ?? '', last];
  // Go's containsOnly accepts the empty string; ParseUint then rejects it.
  if (numbers.some((p) => (p !== '' && !DIGITS.test(p)) || (p.length > 1 && p.startsWith('0')))) return undefined;
  const [major, minor, patch] = numbers.map(parseUint64);
  if (major === undefined || minor === undefined || patch === undefined) return undefined;
  return { major, minor, patch, pre, metadata, original: text };
}

/** Go's `strings.SplitN`. */
function splitN(text: string, sep: string, n: number): string[] {
  const parts = text.split(sep);
  if (parts.length <= n) return parts;
  return [...parts.slice(0, n - 1), parts.slice(n - 1).join(sep)];
}

/**
 * fluxcd/pkg `version.ParseVersion`, which ImagePolicy's semver policy uses for each tag:
 * a tag needs at least three dot-separated parts (`v1.2` is skipped, `v2025.07.03` is taken),
 * then parses with the lenient `newVersion`.
 */
export function parseTagVersion(tag: string): Version | undefined {
  if (splitN(tag, '.', 3).length !== 3) return undefined;
  return newVersion(tag);
}

function compareBig(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** One dot-separated prerelease identifier against another, Masterminds' way. */
function comparePrereleasePart(s: string, o: string): number {
  if (s === o) return 0;
  if (s === '') return -1;
  if (o === '') return 1;
  const oi = parseUint64(o);
  const si = parseUint64(s);
  if (oi === undefined && si === undefined) return s > o ? 1 : -1;
  if (oi === undefined) return -1;
  if (si === undefined) return 1;
  return si > oi ? 1 : -1;
}

function comparePrerelease(a: string, b: string): number {
  const as = a.split('.');
  const bs = b.split('.');
  for (let i = 0; i < Math.max(as.length, bs.length); i++) {
    const d = comparePrereleasePart(as[i] ?? '', bs[i] ?? '');
    if (d !== 0) return d;
  }
  return 0;
}

/** Semver precedence: -1, 0 or 1. Build metadata is ignored. */
export function compareVersions(a: Version, b: Version): number {
  const d = compareBig(a.major, b.major) || compareBig(a.minor, b.minor) || compareBig(a.patch, b.patch);
  if (d !== 0) return d;
  if (a.pre === '' && b.pre === '') return 0;
  if (a.pre === '') return 1;
  if (b.pre === '') return -1;
  return comparePrerelease(a.pre, b.pre);
}

// ---------------------------------------------------------------------------------------------
// Constraints

const CV = '(v?([0-9|x|X|\\*]+)(\\.[0-9|x|X|\\*]+)?(\\.[0-9|x|X|\\*]+)?(-([0-9A-Za-z\\-]+(\\.[0-9A-Za-z\\-]+)*))?(\\+([0-9A-Za-z\\-]+(\\.[0-9A-Za-z\\-]+)*))?)';
// Order matters as in Go: the first alternative that lets the rest match wins.
const OPS = '(=||!=|>|<|>=|=>|<=|=<|~|~>|\\^)';

const CONSTRAINT = new RegExp(`^${S}*${OPS}${S}*${CV}${S}*$`);
const RANGE = new RegExp(`${S}*${CV}${S}+-${S}+${CV}${S}*`, 'g');
const FIND_CONSTRAINT = new RegExp(`${OPS}${S}*${CV}`, 'g');
const VALID_GROUP = new RegExp(`^(${S}*${OPS}${S}*${CV}${S}*)((?:${S}+|,${S}*)${OPS}${S}*${CV}${S}*)*$`);

type Operator = '' | '=' | '!=' | '>' | '<' | '>=' | '=>' | '<=' | '=<' | '~' | '~>' | '^';

interface Constraint {
  op: Operator;
  /** The version text as written (`1.x`, `v2`). */
  orig: string;
  con: Version;
  dirty: boolean;
  minorDirty: boolean;
  patchDirty: boolean;
}

export interface Constraints {
  /** The range as the user wrote it. */
  readonly source: string;
  /** OR of AND groups. */
  readonly groups: readonly (readonly Constraint[])[];
  /** Per group: whether some constraint names a prerelease, which admits prereleases. */
  readonly groupHasPrerelease: readonly boolean[];
}

export class ConstraintError extends Error {
  override readonly name = 'ConstraintError';
}

function isX(text: string | undefined): boolean {
  return text === 'x' || text === 'X' || text === '*';
}

/** `A - B` → `>= A, <= B `, replacing the first occurrence of each match as Go's code does. */
function rewriteRanges(text: string): string {
  let out = text;
  for (const m of text.matchAll(RANGE)) {
    out = out.replace(m[0], () => `>= ${m[1] ?? ''}, <= ${m[11] ?? ''} `);
  }
  return out;
}

function parseConstraint(text: string): Constraint {
  const m = CONSTRAINT.exec(text);
  if (!m) throw new ConstraintError(`improper constraint: ${goQuote(text)}`);
  const op = (m[1] ?? '') as Operator;
  const orig = m[2] ?? '';
  const [major, minor, patch, pre] = [m[3] ?? '', m[4] ?? '', m[5] ?? '', m[6] ?? ''];
  let text2 = orig;
  let dirty = false;
  let minorDirty = false;
  let patchDirty = false;
  if (isX(major) || major === '') {
    text2 = `0.0.0${pre}`;
    dirty = true;
  } else if (isX(minor.slice(1)) || minor === '') {
    text2 = `${major}.0.0${pre}`;
    dirty = minorDirty = true;
  } else if (isX(patch.slice(1)) || patch === '') {
    text2 = `${major}${minor}.0${pre}`;
    dirty = patchDirty = true;
  }
  const con = newVersion(text2);
  // Masterminds' own wording for a version part its grammar let through but its parser refuses.
  if (!con) throw new ConstraintError('constraint parser error');
  return { op, orig, con, dirty, minorDirty, patchDirty };
}

/**
 * Masterminds' `NewConstraint`. Throws a `ConstraintError` with Masterminds' message, e.g.
 * `improper constraint: "foo"`.
 */
export function parseConstraints(range: string): Constraints {
  const groups: Constraint[][] = [];
  const groupHasPrerelease: boolean[] = [];
  for (const part of rewriteRanges(range).split('||')) {
    if (!VALID_GROUP.test(part)) throw new ConstraintError(`improper constraint: ${goQuote(part)}`);
    const found = [...part.matchAll(FIND_CONSTRAINT)].map((m) => m[0]);
    const constraints = (found.length > 0 ? found : [part]).map(parseConstraint);
    groups.push(constraints);
    groupHasPrerelease.push(constraints.some((c) => c.con.pre !== ''));
  }
  return { source: range, groups, groupHasPrerelease };
}

/** Whether `v` satisfies the constraints (Masterminds' `Check` with IncludePrerelease off). */
export function satisfies(v: Version, constraints: Constraints): boolean {
  return constraints.groups.some((group, i) => {
    const includePre = constraints.groupHasPrerelease[i] ?? false;
    if (v.pre !== '' && !includePre) return false;
    return group.every((c) => check(v, c));
  });
}

function check(v: Version, c: Constraint): boolean {
  switch (c.op) {
    case '':
    case '=':
      return c.dirty ? tilde(v, c) : compareVersions(v, c.con) === 0;
    case '!=':
      return notEqual(v, c);
    case '>':
      return greaterThan(v, c);
    case '<':
      return compareVersions(v, c.con) < 0;
    case '>=':
    case '=>':
      return compareVersions(v, c.con) >= 0;
    case '<=':
    case '=<':
      return lessThanEqual(v, c);
    case '~':
    case '~>':
      return tilde(v, c);
    case '^':
      return caret(v, c);
  }
}

function notEqual(v: Version, c: Constraint): boolean {
  if (c.dirty) {
    if (c.con.major !== v.major) return true;
    if (c.con.minor !== v.minor && !c.minorDirty) return true;
    if (c.minorDirty) return false;
    if (c.con.patch !== v.patch && !c.patchDirty) return true;
    if (c.patchDirty) {
      if (v.pre !== '' || c.con.pre !== '') return comparePrerelease(v.pre, c.con.pre) !== 0;
      return false;
    }
  }
  return compareVersions(v, c.con) !== 0;
}

function greaterThan(v: Version, c: Constraint): boolean {
  if (!c.dirty) return compareVersions(v, c.con) > 0;
  if (v.major > c.con.major) return true;
  if (v.major < c.con.major) return false;
  // `>11` needs 12 or higher; `>11.1` needs 11.2 or higher.
  if (c.minorDirty) return false;
  if (c.patchDirty) return v.minor > c.con.minor;
  return compareVersions(v, c.con) > 0;
}

function lessThanEqual(v: Version, c: Constraint): boolean {
  if (!c.dirty) return compareVersions(v, c.con) <= 0;
  if (v.major > c.con.major) return false;
  if (v.major === c.con.major && v.minor > c.con.minor && !c.minorDirty) return false;
  return true;
}

function tilde(v: Version, c: Constraint): boolean {
  if (compareVersions(v, c.con) < 0) return false;
  // `~0.0.0` (and `~*`) accept everything at or above 0.0.0.
  if (c.con.major === 0n && c.con.minor === 0n && c.con.patch === 0n && !c.minorDirty && !c.patchDirty) return true;
  if (v.major !== c.con.major) return false;
  if (v.minor !== c.con.minor && !c.minorDirty) return false;
  return true;
}

function caret(v: Version, c: Constraint): boolean {
  if (compareVersions(v, c.con) < 0) return false;
  if (c.con.major > 0n || c.minorDirty) return v.major === c.con.major;
  if (v.major > 0n) return false;
  if (c.con.minor > 0n || c.patchDirty) return v.minor === c.con.minor;
  if (v.minor > 0n) return false;
  return v.patch === c.con.patch;
}

/** Go's `%q` of a string: double-quoted, with Go's escapes for what is not printable. */
export function goQuote(text: string): string {
  let out = '"';
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === ' ' || !/[\p{C}\p{Z}]/u.test(ch)) out += ch;
    else if (ch === '\x07') out += '\\a';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\v') out += '\\v';
    else if (code < 0x80) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else if (code < 0x10000) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += `\\U${code.toString(16).padStart(8, '0')}`;
  }
  return `${out}"`;
}
