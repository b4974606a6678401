/**
 * The Go value model the template interpreter works on, and Go's `fmt` printing of it.
 *
 * JavaScript cannot tell a Go struct from a Go map, nor a missing map entry from nil, and
 * text/template behaves differently for each: a missing map key prints `<no value>`, an
 * unknown struct field is an error, `index` on a map gives the element type's zero value.
 * So the data handed to a template is built from these explicit kinds:
 *   - `GoStruct`: named fields in declaration order, optional methods and `String()`;
 *   - `GoMap`: entries keyed by string or `GoStruct`, with the element zero value;
 *   - arrays (slices), strings, numbers, booleans, `null` (nil);
 *   - plain objects are read as `map[string]interface{}` for convenience.
 * `NO_VALUE` is Go's invalid `reflect.Value` (what a missing map key evaluates to).
 */

export const NO_VALUE: unique symbol = Symbol('no value');

export type GoMethod = (...args: unknown[]) => unknown;

export class GoStruct {
  constructor(
    readonly typeName: string,
    readonly fields: Readonly<Record<string, unknown>>,
    readonly options: {
      methods?: Readonly<Record<string, GoMethod>>;
      /** `String()`: used by printing, as fmt does for a fmt.Stringer. */
      stringer?: () => string;
      /** `%v` when the struct's own layout differs from its flat fields (embedded structs). */
      format?: () => string;
      /** json.Marshal form when it differs from the field map (json tags, omitempty). */
      json?: () => unknown;
    } = {},
  ) {}
}

export type MapKey = string | number | GoStruct;

export class GoMap {
  private readonly byId = new Map<string, [MapKey, unknown]>();

  constructor(
    readonly typeName: string,
    /** Zero value of the element type, what `index` answers for a missing key. */
    readonly zero: unknown,
    entries: Iterable<[MapKey, unknown]> = [],
  ) {
    for (const [k, v] of entries) this.set(k, v);
  }

  set(key: MapKey, value: unknown): void {
    this.byId.set(keyId(key), [key, value]);
  }

  has(key: MapKey): boolean {
    return this.byId.has(keyId(key));
  }

  get(key: MapKey): unknown {
    const entry = this.byId.get(keyId(key));
    return entry ? entry[1] : NO_VALUE;
  }

  get size(): number {
    return this.byId.size;
  }

  /** Entries in Go's sorted order (fmt and text/template both sort map keys). */
  sorted(): Array<[MapKey, unknown]> {
    return [...this.byId.values()].sort((a, b) => compareKeys(a[0], b[0]));
  }
}

function keyId(key: MapKey): string {
  if (key instanceof GoStruct) return `s:${JSON.stringify(Object.values(key.fields))}`;
  return `${typeof key}:${String(key)}`;
}

/** Go's fmtsort order: numbers and strings by value, structs field by field. */
export function compareKeys(a: MapKey, b: MapKey): number {
  if (a instanceof GoStruct && b instanceof GoStruct) {
    const av = Object.values(a.fields);
    const bv = Object.values(b.fields);
    for (let i = 0; i < Math.min(av.length, bv.length); i++) {
      const c = compareKeys(av[i] as MapKey, bv[i] as MapKey);
      if (c !== 0) return c;
    }
    return av.length - bv.length;
  }
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const as = String(a);
  const bs = String(b);
  return as < bs ? -1 : as > bs ? 1 : 0;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Map-like view of a GoMap or a plain object, in sorted key order. */
export function mapEntries(v: GoMap | Record<string, unknown>): Array<[MapKey, unknown]> {
  if (v instanceof GoMap) return v.sorted();
  return Object.keys(v).sort(compareKeys).map((k) => [k, v[k]]);
}

export function isMap(v: unknown): v is GoMap | Record<string, unknown> {
  return v instanceof GoMap || isPlainObject(v);
}

/** The Go type name used in error messages. */
export function typeName(v: unknown): string {
  if (v === NO_VALUE) return 'invalid';
  if (v === null || v === undefined) return 'nil';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float64';
  if (typeof v === 'boolean') return 'bool';
  if (Array.isArray(v)) return '[]interface {}';
  if (v instanceof GoStruct) return v.typeName;
  if (v instanceof GoMap) return v.typeName;
  if (isPlainObject(v)) return 'map[string]interface {}';
  return typeof v;
}

/** text/template's truth: false, 0, nil, empty string/slice/map and no value are false. */
export function isTrue(v: unknown): boolean {
  if (v === NO_VALUE || v === null || v === undefined) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') return v.length > 0;
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof GoMap) return v.size > 0;
  if (isPlainObject(v)) return Object.keys(v).length > 0;
  return true;
}

/** fmt's `%v` (and Sprint of one operand). */
export function formatValue(v: unknown): string {
  if (v === NO_VALUE) return '<no value>';
  if (v === null || v === undefined) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return formatNumber(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (Array.isArray(v)) return `[${v.map((e) => formatValue(e)).join(' ')}]`;
  if (v instanceof GoStruct) {
    if (v.options.stringer) return v.options.stringer();
    if (v.options.format) return v.options.format();
    return `{${Object.values(v.fields).map((f) => formatValue(f)).join(' ')}}`;
  }
  if (isMap(v)) {
    return `map[${mapEntries(v).map(([k, e]) => `${formatValue(k)}:${formatValue(e)}`).join(' ')}]`;
  }
  return String(v);
}

/** Integers as Go ints; others as strconv.FormatFloat(f, 'g', -1, 64). */
export function formatNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return String(n);
  if (Number.isNaN(n)) return 'NaN';
  if (!Number.isFinite(n)) return n > 0 ? '+Inf' : '-Inf';
  const exp = Math.floor(Math.log10(Math.abs(n)));
  if (exp < -4 || exp >= 21) {
    const [mant, e] = n.toExponential().split('e') as [string, string];
    const sign = e.startsWith('-') ? '-' : '+';
    const digits = e.replace(/^[+-]/, '').padStart(2, '0');
    return `${mant}e${sign}${digits}`;
  }
  return String(n);
}

/** strconv.Quote: Go escapes, which differ from JSON's for control and non-printable runes. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0) as number;
    switch (ch) {
      case '"': out += '\\"'; continue;
      case '\\': out += '\\\\'; continue;
      case '\x07': out += '\\a'; continue;
      case '\b': out += '\\b'; continue;
      case '\f': out += '\\f'; continue;
      case '\n': out += '\\n'; continue;
      case '\r': out += '\\r'; continue;
      case '\t': out += '\\t'; continue;
      case '\v': out += '\\v'; continue;
    }
    if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else if (cp === 0xfffd && ch !== '\ufffd') out += '\\ufffd';
    else if ((cp >= 0x80 && cp < 0xa0) || cp === 0xad || (cp >= 0xd800 && cp < 0xe000)) {
      out += cp > 0xffff ? `\\U${cp.toString(16).padStart(8, '0')}` : `\\u${cp.toString(16).padStart(4, '0')}`;
    } else out += ch;
  }
  return `${out}"`;
}

/** encoding/json Marshal: sorted map keys, HTML-safe escaping, struct fields in order. */
export function toGoJson(v: unknown): string {
  return jsonEncode(v)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

// Written out rather than JSON.stringify(object): JavaScript orders integer-like keys first,
// Go sorts every key as a string.
function jsonEncode(v: unknown): string {
  if (v === NO_VALUE || v === null || v === undefined) return 'null';
  if (typeof v === 'string' || typeof v === 'boolean') return JSON.stringify(v);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`json: unsupported value: ${formatNumber(v)}`);
    return JSON.stringify(v);
  }
  if (Array.isArray(v)) return `[${v.map(jsonEncode).join(',')}]`;
  if (v instanceof GoStruct) {
    if (v.options.json) return jsonEncode(v.options.json());
    return `{${Object.entries(v.fields).map(([k, f]) => `${JSON.stringify(k)}:${jsonEncode(f)}`).join(',')}}`;
  }
  if (isMap(v)) {
    const parts = mapEntries(v).map(([k, e]) => {
      if (k instanceof GoStruct) throw new Error(`json: unsupported type: ${typeName(v)}`);
      return `${JSON.stringify(String(k))}:${jsonEncode(e)}`;
    });
    return `{${parts.join(',')}}`;
  }
  return JSON.stringify(String(v));
}
