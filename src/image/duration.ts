/**
 * Go `time.Duration` as the image API writes it: parsing of the CRD's duration patterns and
 * `Duration.String()` formatting (`5m0s`, `1h0m0s`, `1.5s`, `4m59.5s`), which Flux's messages
 * print (`next scan in 5m0s`).
 */

/** `spec.interval` of ImageRepository / ImagePolicy (the CRD's pattern). */
export const INTERVAL_PATTERN = /^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/;
/** `spec.timeout` of ImageRepository: like the interval, without hours. */
export const TIMEOUT_PATTERN = /^([0-9]+(\.[0-9]+)?(ms|s|m))+$/;

const PART = /([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/g;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds of a duration matching `pattern`, or undefined when it does not match. */
export function parseDuration(text: string, pattern: RegExp = INTERVAL_PATTERN): number | undefined {
  if (!pattern.test(text)) return undefined;
  let ms = 0;
  for (const [, amount, unit] of text.matchAll(PART)) ms += Number(amount) * (UNIT_MS[unit ?? ''] ?? 0);
  return ms;
}

/** Go's `time.Duration.String()` of a number of milliseconds (rounded to the nanosecond). */
export function formatDuration(ms: number): string {
  let ns = BigInt(Math.round(ms * 1e6));
  if (ns === 0n) return '0s';
  const negative = ns < 0n;
  if (negative) ns = -ns;
  let text: string;
  if (ns < 1_000_000_000n) {
    // Below a second Go switches to the largest unit that keeps the integer part non-zero.
    const [unitNs, unit] = ns < 1_000n ? [1n, 'ns'] : ns < 1_000_000n ? [1_000n, 'µs'] : [1_000_000n, 'ms'];
    text = `${ns / unitNs}${fraction(ns % unitNs, unitNs)}${unit}`;
  } else {
    const seconds = ns / 1_000_000_000n;
    const secText = `${seconds % 60n}${fraction(ns % 1_000_000_000n, 1_000_000_000n)}s`;
    const minutes = seconds / 60n;
    if (minutes === 0n) text = secText;
    else if (minutes < 60n) text = `${minutes}m${secText}`;
    else text = `${minutes / 60n}h${minutes % 60n}m${secText}`;
  }
  return negative ? `-${text}` : text;
}

/** `.5`, `.25`, … for `remainder / unit`, without trailing zeros; empty when zero. */
function fraction(remainder: bigint, unit: bigint): string {
  if (remainder === 0n) return '';
  const digits = String(unit).length - 1;
  return `.${String(remainder).padStart(digits, '0').replace(/0+$/, '')}`;
}
