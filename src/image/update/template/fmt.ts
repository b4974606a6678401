/** Go's fmt.Sprint, Sprintln and Sprintf for the template value model. */
import { GoStruct, NO_VALUE, formatNumber, formatValue, goQuote, isMap, typeName } from './values.js';

/** fmt.Sprint: a space between operands when neither side is a string. */
export function sprint(args: readonly unknown[]): string {
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += formatValue(a);
  });
  return out;
}

export function sprintln(args: readonly unknown[]): string {
  return `${args.map((a) => formatValue(a)).join(' ')}\n`;
}

interface Spec {
  minus: boolean;
  plus: boolean;
  sharp: boolean;
  space: boolean;
  zero: boolean;
  width?: number;
  prec?: number;
  verb: string;
}

export function sprintf(format: string, args: readonly unknown[]): string {
  let out = '';
  let argIndex = 0;
  let i = 0;
  while (i < format.length) {
    const pct = format.indexOf('%', i);
    if (pct < 0) { out += format.slice(i); break; }
    out += format.slice(i, pct);
    i = pct + 1;
    const spec: Spec = { minus: false, plus: false, sharp: false, space: false, zero: false, verb: '' };
    for (; i < format.length; i++) {
      const c = format[i];
      if (c === '-') spec.minus = true;
      else if (c === '+') spec.plus = true;
      else if (c === '#') spec.sharp = true;
      else if (c === ' ') spec.space = true;
      else if (c === '0') spec.zero = true;
      else break;
    }
    const readNumber = (): number | undefined => {
      if (format[i] === '*') {
        i++;
        const a = args[argIndex++];
        return typeof a === 'number' ? Math.trunc(a) : undefined;
      }
      const m = /^\d+/.exec(format.slice(i));
      if (!m) return undefined;
      i += m[0].length;
      return Number(m[0]);
    };
    spec.width = readNumber();
    if (format[i] === '.') {
      i++;
      spec.prec = readNumber() ?? 0;
    }
    const verb = String.fromCodePoint(format.codePointAt(i) ?? 0x21);
    if (i >= format.length) { out += '%!(NOVERB)'; break; }
    i += verb.length;
    spec.verb = verb;
    if (verb === '%') { out += '%'; continue; }
    if (argIndex >= args.length) { out += `%!${verb}(MISSING)`; continue; }
    out += formatArg(args[argIndex++], spec);
  }
  if (argIndex < args.length) {
    out += `%!(EXTRA ${args.slice(argIndex).map((a) => `${typeName(a)}=${formatValue(a)}`).join(', ')})`;
  }
  return out;
}

function pad(s: string, spec: Spec, numeric: boolean): string {
  const len = [...s].length;
  if (spec.width === undefined || len >= spec.width) return s;
  const fill = spec.width - len;
  if (spec.minus) return s + ' '.repeat(fill);
  if (spec.zero && numeric) {
    const sign = /^[+-]/.test(s) ? s.charAt(0) : '';
    return sign + '0'.repeat(fill) + s.slice(sign.length);
  }
  return ' '.repeat(fill) + s;
}

function bad(v: unknown, spec: Spec): string {
  return `%!${spec.verb}(${typeName(v)}=${formatValue(v)})`;
}

function formatArg(v: unknown, spec: Spec): string {
  if (v === NO_VALUE) return pad('<no value>', spec, false);
  if (Array.isArray(v) && spec.verb !== 'v' && spec.verb !== 'T') {
    return `[${v.map((e) => formatArg(e, { ...spec, width: undefined })).join(' ')}]`;
  }
  switch (spec.verb) {
    case 'T': return pad(typeName(v), spec, false);
    case 'v':
      if (spec.plus && v instanceof GoStruct && !v.options.stringer) {
        return pad(`{${Object.entries(v.fields).map(([k, f]) => `${k}:${formatValue(f)}`).join(' ')}}`, spec, false);
      }
      if (typeof v === 'number') return formatArg(v, { ...spec, verb: Number.isInteger(v) ? 'd' : 'g' });
      if (spec.sharp && typeof v === 'string') return pad(goQuote(v), spec, false);
      return pad(formatValue(v), spec, false);
    case 's':
      if (typeof v === 'string' || (v instanceof GoStruct && v.options.stringer)) {
        let s = formatValue(v);
        if (spec.prec !== undefined) s = [...s].slice(0, spec.prec).join('');
        return pad(s, spec, false);
      }
      if (isMap(v) || v instanceof GoStruct) return pad(formatValue(v), spec, false);
      return bad(v, spec);
    case 'q':
      if (typeof v === 'string') return pad(spec.sharp && !v.includes('`') ? `\`${v}\`` : goQuote(v), spec, false);
      if (typeof v === 'number' && Number.isInteger(v)) return pad(`'${String.fromCodePoint(v)}'`, spec, false);
      return bad(v, spec);
    case 'd':
    case 'b':
    case 'o':
    case 'x':
    case 'X':
      return integerVerb(v, spec);
    case 'c':
      if (typeof v === 'number' && Number.isInteger(v)) return pad(String.fromCodePoint(v), spec, false);
      return bad(v, spec);
    case 't':
      if (typeof v === 'boolean') return pad(String(v), spec, false);
      return bad(v, spec);
    case 'e':
    case 'E':
    case 'f':
    case 'F':
    case 'g':
    case 'G':
      if (typeof v !== 'number') return bad(v, spec);
      return pad(floatVerb(v, spec), spec, true);
    default:
      return bad(v, spec);
  }
}

function integerVerb(v: unknown, spec: Spec): string {
  if (typeof v === 'string' && (spec.verb === 'x' || spec.verb === 'X')) {
    let hex = Buffer.from(v, 'utf8').toString('hex');
    if (spec.verb === 'X') hex = hex.toUpperCase();
    return pad(hex, spec, false);
  }
  if (typeof v === 'boolean' || typeof v === 'string' || v === null || typeof v !== 'number' || !Number.isInteger(v)) {
    if (typeof v === 'number' && (spec.verb === 'x' || spec.verb === 'X')) return pad(v.toString(16), spec, true);
    return bad(v, spec);
  }
  const radix = { d: 10, b: 2, o: 8, x: 16, X: 16 }[spec.verb as 'd'] ?? 10;
  let digits = Math.abs(v).toString(radix);
  if (spec.verb === 'X') digits = digits.toUpperCase();
  if (spec.prec !== undefined) digits = digits.padStart(spec.prec, '0');
  if (spec.sharp && radix === 16) digits = (spec.verb === 'X' ? '0X' : '0x') + digits;
  const sign = v < 0 ? '-' : spec.plus ? '+' : spec.space ? ' ' : '';
  return pad(sign + digits, spec, spec.prec === undefined);
}

function floatVerb(v: number, spec: Spec): string {
  const sign = v < 0 || Object.is(v, -0) ? '-' : spec.plus ? '+' : '';
  const a = Math.abs(v);
  if (!Number.isFinite(a)) return Number.isNaN(v) ? 'NaN' : `${sign || '+'}Inf`;
  let body: string;
  switch (spec.verb) {
    case 'f':
    case 'F':
      body = a.toFixed(spec.prec ?? 6);
      break;
    case 'e':
    case 'E': {
      const [m, e] = a.toExponential(spec.prec ?? 6).split('e') as [string, string];
      body = `${m}e${e[0]}${e.slice(1).padStart(2, '0')}`;
      if (spec.verb === 'E') body = body.toUpperCase();
      break;
    }
    default:
      body = spec.prec === undefined ? formatNumber(a) : goG(a, spec.prec);
      if (spec.verb === 'G') body = body.toUpperCase();
  }
  return sign + body;
}

function goG(a: number, prec: number): string {
  const p = prec === 0 ? 1 : prec;
  const exp = a === 0 ? 0 : Math.floor(Math.log10(a));
  if (exp < -4 || exp >= p) {
    const [m, e] = a.toExponential(p - 1).split('e') as [string, string];
    return `${m.replace(/\.?0+$/, '')}e${e[0]}${e.slice(1).padStart(2, '0')}`;
  }
  return a.toPrecision(p).replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '');
}

