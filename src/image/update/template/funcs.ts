/**
 * text/template's built-in functions and the sprig functions Flux offers commit message
 * templates (sprig's hermetic set: nothing that depends on time, randomness or the
 * environment), limited to the ones templates in the wild use.
 */
import { createHash } from 'node:crypto';
import { RE2JS } from 're2js';
import { FuncError, type FuncDef, type Param } from './exec.js';
import { sprint, sprintf, sprintln } from './fmt.js';
import { GoMap, GoStruct, NO_VALUE, compareKeys, formatValue, goQuote, isMap, isPlainObject, isTrue, mapEntries, toGoJson, typeName } from './values.js';

const S: Param = 'string';
const A: Param = 'any';
const I: Param = 'int';

function def(params: readonly Param[], fn: FuncDef['fn'], variadic?: Param): FuncDef {
  return variadic ? { params, fn, variadic } : { params, fn };
}

/** Bound on what `repeat`, `until` and friends may build. */
const MAX_BUILT = 100_000;

function bounded(n: number, what: string): number {
  if (n > MAX_BUILT) throw new FuncError(`${what} of ${n} exceeds the limit of ${MAX_BUILT}`);
  return n;
}

function basicKind(v: unknown): 'string' | 'number' | 'bool' | 'nil' | undefined {
  if (v === null || v === NO_VALUE || v === undefined) return 'nil';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return 'number';
  if (typeof v === 'boolean') return 'bool';
  return undefined;
}

function eq(a: unknown, ...others: unknown[]): boolean {
  const ka = basicKind(a);
  if (others.length === 0) throw new FuncError('missing argument for comparison');
  for (const b of others) {
    const kb = basicKind(b);
    if (ka === undefined || kb === undefined) {
      if (a === b) return true;
      if (ka === undefined) throw new FuncError(`non-comparable type ${formatValue(a)}: ${typeName(a)}`);
      throw new FuncError(`non-comparable type ${formatValue(b)}: ${typeName(b)}`);
    }
    if (ka !== kb && ka !== 'nil' && kb !== 'nil') throw new FuncError('incompatible types for comparison');
    if (a === b || (ka === 'nil' && kb === 'nil')) return true;
  }
  return false;
}

function ordered(a: unknown, b: unknown): number {
  const ka = basicKind(a);
  const kb = basicKind(b);
  if (ka !== 'string' && ka !== 'number') throw new FuncError('invalid type for comparison');
  if (ka !== kb) throw new FuncError('incompatible types for comparison');
  return (a as string | number) < (b as string | number) ? -1 : a === b ? 0 : 1;
}

function length(v: unknown): number {
  if (typeof v === 'string') return Buffer.byteLength(v);
  if (Array.isArray(v)) return v.length;
  if (v instanceof GoMap) return v.size;
  if (isPlainObject(v)) return Object.keys(v).length;
  if (v === null) throw new FuncError('len of nil pointer');
  throw new FuncError(`len of type ${typeName(v)}`);
}

function index(item: unknown, ...keys: unknown[]): unknown {
  let v = item;
  for (const key of keys) {
    if (Array.isArray(v) || typeof v === 'string') {
      if (typeof key !== 'number' || !Number.isInteger(key)) throw new FuncError(`cannot index slice/array with type ${typeName(key)}`);
      const len = Array.isArray(v) ? v.length : Buffer.byteLength(v);
      if (key < 0 || key >= len) throw new FuncError(`index out of range: ${key}`);
      v = Array.isArray(v) ? v[key] : (Buffer.from(v)[key] as number);
    } else if (v instanceof GoMap) {
      const found = v.get(key as string);
      v = found === NO_VALUE ? v.zero : found;
    } else if (isPlainObject(v)) {
      if (typeof key !== 'string') throw new FuncError(`value has type ${typeName(key)}; should be string`);
      v = Object.hasOwn(v, key) ? v[key] : null;
    } else if (v === null || v === NO_VALUE) {
      throw new FuncError('index of untyped nil');
    } else throw new FuncError(`can't index item of type ${typeName(v)}`);
  }
  return v;
}

/** text/template's `slice x 1 2` = x[1:2] (bytes of a string, elements of a slice). */
function slice(item: unknown, ...indexes: unknown[]): unknown {
  if (typeof item !== 'string' && !Array.isArray(item)) throw new FuncError(`can't slice item of type ${typeName(item)}`);
  if (indexes.length > (typeof item === 'string' ? 2 : 3)) throw new FuncError(`too many slice indexes: ${indexes.length}`);
  const len = typeof item === 'string' ? Buffer.byteLength(item) : item.length;
  const [from = 0, to = len] = indexes.map((i) => {
    if (typeof i !== 'number' || !Number.isInteger(i)) throw new FuncError(`cannot index slice/array with type ${typeName(i)}`);
    return i;
  });
  if (from < 0 || to > len || from > to) throw new FuncError(`index out of range: ${from > to ? from : to}`);
  return typeof item === 'string' ? Buffer.from(item).subarray(from, to).toString() : item.slice(from, to);
}

/** sprig's strval: a string as is, a Stringer through String(), anything else as `%v`. */
function strval(v: unknown): string {
  return typeof v === 'string' ? v : formatValue(v);
}

/** sprig's strslice. */
function strslice(v: unknown): string[] {
  if (Array.isArray(v)) return v.filter((e) => e !== null && e !== NO_VALUE).map(strval);
  if (v === null || v === NO_VALUE) return [];
  return [strval(v)];
}

function list(v: unknown, fn: string): unknown[] {
  if (Array.isArray(v)) return v;
  throw new FuncError(`Cannot find ${fn} on type ${typeName(v)}`);
}

/** sprig's empty: zero values, empty collections, nil. Structs are never empty. */
function empty(v: unknown): boolean {
  if (v === null || v === NO_VALUE || v === undefined) return true;
  if (v instanceof GoStruct) return false;
  return !isTrue(v);
}

/** Go's strings.Title separators: not ASCII alphanumerics or `_`, not letters or digits, spaces. */
function isTitleSeparator(ch: string): boolean {
  if (ch.charCodeAt(0) <= 0x7f) return !/[A-Za-z0-9_]/.test(ch);
  if (/[\p{L}\p{Nd}]/u.test(ch)) return false;
  return /\s/u.test(ch);
}

function title(s: string): string {
  let prev = ' ';
  let out = '';
  for (const ch of s) {
    out += isTitleSeparator(prev) ? ch.toUpperCase() : ch;
    prev = ch;
  }
  return out;
}

function untitle(s: string): string {
  let prev = ' ';
  let out = '';
  for (const ch of s) {
    out += /\s/.test(prev) ? ch.toLowerCase() : ch;
    prev = ch;
  }
  return out;
}

function bytesOf(s: string): Buffer {
  return Buffer.from(s, 'utf8');
}

function substr(start: number, end: number, s: string): string {
  const b = bytesOf(s);
  if (start < 0) return b.subarray(0, end).toString();
  if (end < 0 || end > b.length) return b.subarray(start).toString();
  return b.subarray(start, end).toString();
}

function trunc(c: number, s: string): string {
  const b = bytesOf(s);
  if (c < 0 && b.length + c > 0) return b.subarray(b.length + c).toString();
  if (c >= 0 && b.length > c) return b.subarray(0, c).toString();
  return s;
}

function indent(n: number, s: string): string {
  const pad = ' '.repeat(bounded(n, 'indent'));
  return pad + s.split('\n').join(`\n${pad}`);
}

function regex(pattern: string): RE2JS {
  try {
    return RE2JS.compile(pattern, 0);
  } catch (e) {
    throw new FuncError((e as Error).message);
  }
}

/** Go's Regexp.Expand template syntax: `$1`, `$name`, `${name}`, `$$`. */
function expand(template: string, group: (name: string) => string): string {
  let out = '';
  for (let i = 0; i < template.length; i++) {
    const c = template[i];
    if (c !== '$') {
      out += c;
      continue;
    }
    if (template[i + 1] === '$') {
      out += '$';
      i++;
      continue;
    }
    const braced = template[i + 1] === '{';
    const m = /^[A-Za-z0-9_]+/.exec(template.slice(i + (braced ? 2 : 1)));
    if (!m || (braced && template[i + 2 + m[0].length] !== '}')) {
      out += '$'; // malformed: the `$` stays literal
      continue;
    }
    out += group(m[0]);
    i += m[0].length + (braced ? 2 : 0);
  }
  return out;
}

/** Regexp.ReplaceAllString (or …Literal…): empty matches right after a match are skipped, as in Go. */
function regexReplace(pattern: string, s: string, repl: string, literal: boolean): string {
  const re = regex(pattern);
  const names = re.namedGroups() as Record<string, number>;
  const m = re.matcher(s);
  let out = '';
  let last = 0;
  let previousEnd = -1;
  while (m.find()) {
    const start = m.start();
    const end = m.end();
    if (start === end && start === previousEnd) continue;
    out += s.slice(last, start);
    out += literal
      ? repl
      : expand(repl, (name) => {
          const index = /^[0-9]+$/.test(name) ? Number(name) : names[name];
          if (index === undefined || index > m.groupCount()) return '';
          return m.group(index) ?? '';
        });
    last = end;
    previousEnd = end;
  }
  return out + s.slice(last);
}

function dict(...pairs: unknown[]): GoMap {
  const m = new GoMap('map[string]interface {}', null);
  for (let i = 0; i < pairs.length; i += 2) m.set(strval(pairs[i]), i + 1 < pairs.length ? pairs[i + 1] : '');
  return m;
}

function keysOf(...maps: unknown[]): string[] {
  const keys: string[] = [];
  for (const m of maps) {
    if (!isMap(m)) throw new FuncError(`wrong type for value; expected map[string]interface {}; got ${typeName(m)}`);
    for (const [k] of mapEntries(m)) keys.push(String(k));
  }
  return keys;
}

function toInt(v: unknown): number {
  if (typeof v === 'number') return Math.trunc(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string') {
    const n = Number(v.trim());
    return Number.isFinite(n) ? Math.trunc(n) : 0;
  }
  return 0;
}

function uniq(items: unknown[]): unknown[] {
  const out: unknown[] = [];
  for (const item of items) if (!out.some((o) => o === item || (o instanceof GoStruct && formatValue(o) === formatValue(item)))) out.push(item);
  return out;
}

export const FUNCS: ReadonlyMap<string, FuncDef> = new Map<string, FuncDef>([
  // text/template built-ins (`and`/`or` are evaluated lazily by exec and only named here).
  ['and', def([A], () => undefined, A)],
  ['or', def([A], () => undefined, A)],
  ['not', def([A], (v: unknown) => !isTrue(v))],
  ['len', def([A], length)],
  ['index', def([A], index, A)],
  ['slice', def([A], slice, A)],
  ['print', def([], (...a: unknown[]) => sprint(a), A)],
  ['println', def([], (...a: unknown[]) => sprintln(a), A)],
  ['printf', def([S], (f: string, ...a: unknown[]) => sprintf(f, a), A)],
  ['eq', def([A], eq, A)],
  ['ne', def([A, A], (a: unknown, b: unknown) => !eq(a, b))],
  ['lt', def([A, A], (a: unknown, b: unknown) => ordered(a, b) < 0)],
  ['le', def([A, A], (a: unknown, b: unknown) => ordered(a, b) <= 0)],
  ['gt', def([A, A], (a: unknown, b: unknown) => ordered(a, b) > 0)],
  ['ge', def([A, A], (a: unknown, b: unknown) => ordered(a, b) >= 0)],
  ['urlquery', def([], (...a: unknown[]) => encodeURIComponent(sprint(a)).replace(/%20/g, '+'), A)],
  // sprig: strings
  ['upper', def([S], (s: string) => s.toUpperCase())],
  ['lower', def([S], (s: string) => s.toLowerCase())],
  ['title', def([S], title)],
  ['untitle', def([S], untitle)],
  ['trim', def([S], (s: string) => s.trim())],
  ['trimAll', def([S, S], (cut: string, s: string) => trimSet(s, cut))],
  ['trimPrefix', def([S, S], (p: string, s: string) => (s.startsWith(p) ? s.slice(p.length) : s))],
  ['trimSuffix', def([S, S], (p: string, s: string) => (p && s.endsWith(p) ? s.slice(0, -p.length) : s))],
  ['replace', def([S, S, S], (o: string, n: string, s: string) => s.split(o).join(n))],
  ['repeat', def([I, S], (n: number, s: string) => s.repeat(bounded(Math.max(0, n) * Math.max(1, s.length), 'repeat') / Math.max(1, s.length)))],
  ['substr', def([I, I, S], substr)],
  ['trunc', def([I, S], trunc)],
  ['nospace', def([S], (s: string) => s.replace(/\s+/gu, ''))],
  ['contains', def([S, S], (sub: string, s: string) => s.includes(sub))],
  ['hasPrefix', def([S, S], (p: string, s: string) => s.startsWith(p))],
  ['hasSuffix', def([S, S], (p: string, s: string) => s.endsWith(p))],
  ['quote', def([], (...a: unknown[]) => a.filter((v) => v !== null).map((v) => goQuote(strval(v))).join(' '), A)],
  ['squote', def([], (...a: unknown[]) => a.filter((v) => v !== null).map((v) => `'${strval(v)}'`).join(' '), A)],
  ['cat', def([], (...a: unknown[]) => a.filter((v) => v !== null).map(strval).join(' '), A)],
  ['indent', def([I, S], indent)],
  ['nindent', def([I, S], (n: number, s: string) => `\n${indent(n, s)}`)],
  ['abbrev', def([I, S], (w: number, s: string) => (w < 4 || s.length <= w ? s : `${s.slice(0, w - 3)}...`))],
  ['plural', def([S, S, I], (one: string, many: string, n: number) => (n === 1 ? one : many))],
  ['toString', def([A], strval)],
  ['toJson', def([A], (v: unknown) => { try { return toGoJson(v); } catch { return ''; } })],
  ['mustToJson', def([A], (v: unknown) => toGoJson(v))],
  ['join', def([S, A], (sep: string, v: unknown) => strslice(v).join(sep))],
  ['split', def([S, S], (sep: string, s: string) => new GoMap('map[string]string', '', s.split(sep).map((p, i) => [`_${i}`, p])))],
  ['splitList', def([S, S], (sep: string, s: string) => s.split(sep))],
  ['splitn', def([S, I, S], (sep: string, n: number, s: string) => {
    const parts = s.split(sep);
    const kept = n > 0 && parts.length > n ? [...parts.slice(0, n - 1), parts.slice(n - 1).join(sep)] : parts;
    return new GoMap('map[string]string', '', kept.map((p, i) => [`_${i}`, p]));
  })],
  ['sha256sum', def([S], (s: string) => createHash('sha256').update(s).digest('hex'))],
  ['sha1sum', def([S], (s: string) => createHash('sha1').update(s).digest('hex'))],
  ['b64enc', def([S], (s: string) => Buffer.from(s).toString('base64'))],
  ['b64dec', def([S], (s: string) => Buffer.from(s, 'base64').toString('utf8'))],
  ['regexMatch', def([S, S], (re: string, s: string) => regex(re).matcher(s).find())],
  ['regexFind', def([S, S], (re: string, s: string) => {
    const m = regex(re).matcher(s);
    return m.find() ? m.group() ?? '' : '';
  })],
  ['regexReplaceAll', def([S, S, S], (re: string, s: string, repl: string) => regexReplace(re, s, repl, false))],
  ['regexReplaceAllLiteral', def([S, S, S], (re: string, s: string, repl: string) => regexReplace(re, s, repl, true))],
  // sprig: defaults and logic
  ['default', def([A], (d: unknown, ...given: unknown[]) => (given.length === 0 || empty(given[0]) ? d : given[0]), A)],
  ['empty', def([A], empty)],
  ['coalesce', def([], (...a: unknown[]) => a.find((v) => !empty(v)) ?? null, A)],
  ['ternary', def([A, A, 'bool'], (t: unknown, f: unknown, c: boolean) => (c ? t : f))],
  // sprig: lists and dicts
  ['list', def([], (...a: unknown[]) => a, A)],
  ['first', def([A], (l: unknown) => (list(l, 'first').length ? list(l, 'first')[0] : null))],
  ['last', def([A], (l: unknown) => { const v = list(l, 'last'); return v.length ? v[v.length - 1] : null; })],
  ['rest', def([A], (l: unknown) => list(l, 'rest').slice(1))],
  ['initial', def([A], (l: unknown) => list(l, 'initial').slice(0, -1))],
  ['append', def([A, A], (l: unknown, v: unknown) => [...list(l, 'append'), v])],
  ['prepend', def([A, A], (l: unknown, v: unknown) => [v, ...list(l, 'prepend')])],
  ['concat', def([], (...ls: unknown[]) => ls.flatMap((l) => list(l, 'concat')), A)],
  ['reverse', def([A], (l: unknown) => [...list(l, 'reverse')].reverse())],
  ['uniq', def([A], (l: unknown) => uniq(list(l, 'uniq')))],
  ['compact', def([A], (l: unknown) => list(l, 'compact').filter((v) => !empty(v)))],
  ['has', def([A, A], (needle: unknown, l: unknown) => list(l, 'has').includes(needle))],
  ['without', def([A], (l: unknown, ...drop: unknown[]) => list(l, 'without').filter((v) => !drop.includes(v)), A)],
  ['sortAlpha', def([A], (l: unknown) => strslice(Array.isArray(l) ? l : [l]).sort(compareKeys))],
  ['dict', def([], dict, A)],
  ['get', def([A, S], (m: unknown, k: string) => (isMap(m) ? (m instanceof GoMap ? (m.has(k) ? m.get(k) : '') : (m[k] ?? '')) : ''))],
  ['hasKey', def([A, S], (m: unknown, k: string) => (m instanceof GoMap ? m.has(k) : isPlainObject(m) && Object.hasOwn(m, k)))],
  ['keys', def([], (...ms: unknown[]) => keysOf(...ms), A)],
  ['values', def([A], (m: unknown) => (isMap(m) ? mapEntries(m).map(([, v]) => v) : []))],
  // sprig: numbers
  ['atoi', def([S], (s: string) => (/^[+-]?\d+$/.test(s) ? Number(s) : 0))],
  ['int', def([A], toInt)],
  ['int64', def([A], toInt)],
  ['add', def([], (...a: unknown[]) => a.reduce<number>((s, v) => s + toInt(v), 0), A)],
  ['add1', def([A], (v: unknown) => toInt(v) + 1)],
  ['sub', def([A, A], (a: unknown, b: unknown) => toInt(a) - toInt(b))],
  ['mul', def([A], (...a: unknown[]) => a.reduce<number>((s, v) => s * toInt(v), 1), A)],
  ['div', def([A, A], (a: unknown, b: unknown) => {
    if (toInt(b) === 0) throw new FuncError('runtime error: integer divide by zero');
    return Math.trunc(toInt(a) / toInt(b));
  })],
  ['mod', def([A, A], (a: unknown, b: unknown) => {
    if (toInt(b) === 0) throw new FuncError('runtime error: integer divide by zero');
    return toInt(a) % toInt(b);
  })],
  ['max', def([A], (...a: unknown[]) => Math.max(...a.map(toInt)), A)],
  ['min', def([A], (...a: unknown[]) => Math.min(...a.map(toInt)), A)],
  ['until', def([I], (n: number) => Array.from({ length: bounded(Math.max(0, n), 'until') }, (_, i) => i))],
]);

function trimSet(s: string, cut: string): string {
  const set = new Set(cut);
  let start = 0;
  let end = s.length;
  while (start < end && set.has(s[start] as string)) start++;
  while (end > start && set.has(s[end - 1] as string)) end--;
  return s.slice(start, end);
}
