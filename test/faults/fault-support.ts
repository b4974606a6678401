/**
 * Shared by the provider-fault, bad-input and secret-scan suites: planted secrets and the scan
 * that proves none of them escaped, an independent receiving-side `generic-hmac` check,
 * and percentiles (polling is test/support/wait.ts).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { afterAll, afterEach, expect } from 'vitest';
import type { HeraldProcess } from '../support/herald.js';
import type { ReceivedRequest } from '../support/sink.js';

/** The q-quantile (0..1) of `values`, nearest-rank. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

/**
 * Secret values planted in manifests. Each is `<label>-<24 hex>`, so that a leak of any part of
 * one (a masked message cut in the middle of a value, say) is found by its hex windows without
 * false positives.
 */
export class PlantedSecrets {
  private readonly values = new Map<string, string>();
  /** Extra encodings of planted values (e.g. a basic-auth header) to look for too. */
  private readonly derived = new Map<string, string>();

  plant(label: string): string {
    const value = `${label}-${randomBytes(12).toString('hex')}`;
    this.values.set(label, value);
    return value;
  }

  /** Also look for `text` (derived from planted values, e.g. base64 of user:password). */
  alsoLookFor(label: string, text: string): void {
    this.derived.set(label, text);
  }

  all(): Array<[string, string]> {
    return [...this.values, ...this.derived];
  }

  /** Every place a planted value (whole, or any 12-character window of its random part) shows up in `captured`. */
  leaks(captured: Record<string, string>): string[] {
    const found: string[] = [];
    for (const [where, text] of Object.entries(captured)) {
      const variants = [text, safeDecode(text)];
      for (const [label, value] of this.all()) {
        const core = this.values.has(label) ? value.slice(value.lastIndexOf('-') + 1) : value;
        const needles = new Set([value]);
        if (this.values.has(label)) for (let i = 0; i + 12 <= core.length; i++) needles.add(core.slice(i, i + 12));
        for (const needle of needles) {
          const hit = variants.find((v) => v.includes(needle));
          if (hit !== undefined) {
            const at = hit.indexOf(needle);
            found.push(`${label} (${needle === value ? 'whole' : 'part'}) in ${where}: …${hit.slice(Math.max(0, at - 80), at + needle.length + 40)}…`);
            break;
          }
        }
      }
    }
    return found;
  }
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Everything a running Herald exposes, for the secret scan. */
export async function captureHerald(h: HeraldProcess, adminToken?: string): Promise<Record<string, string>> {
  const auth: Record<string, string> = adminToken ? { authorization: `Bearer ${adminToken}` } : {};
  const get = async (url: string) => {
    try {
      return await (await fetch(url, { headers: auth })).text();
    } catch (err) {
      return `unreachable: ${String(err)}`;
    }
  };
  const captured: Record<string, string> = {
    metrics: await get(`${h.metricsUrl}/metrics`),
    resources: await get(`${h.healthUrl}/resources`),
    readyz: await get(`${h.healthUrl}/readyz`),
  };
  for (const state of ['failed', 'completed', 'delayed', 'waiting', 'active']) {
    captured[`admin ${state}`] = await get(`${h.adminUrl}/deliveries?state=${state}&limit=500`);
  }
  captured.logs = h.output.join('\n');
  return captured;
}

/**
 * The receiving side's `generic-hmac` check: `X-Signature: sha256=<hex HMAC-SHA256 of the raw
 * body>`, compared in constant time.
 */
export function hmacVerifies(req: ReceivedRequest, key: string): boolean {
  const header = req.headers['x-signature'];
  if (typeof header !== 'string') return false;
  const expected = Buffer.from(`sha256=${createHmac('sha256', key).update(Buffer.from(req.body, 'utf8')).digest('hex')}`);
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The event message a generic(-hmac) request carries. */
export function messageOf(req: ReceivedRequest): string {
  try {
    return String((JSON.parse(req.body) as { message?: unknown }).message ?? '');
  } catch {
    return '';
  }
}

/**
 * What every fault-test file shares: cleanups run after each test (processes and sinks it
 * started, Redis prefixes), and one scan at the end of the file of everything captured for
 * the secrets planted in its manifests.
 */
export function faultFile(name: string): {
  cleanups: Array<() => Promise<unknown>>;
  planted: PlantedSecrets;
  captured: Record<string, string>;
} {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  });
  const planted = new PlantedSecrets();
  const captured: Record<string, string> = {};
  afterAll(() => {
    const leaks = planted.leaks(captured);
    console.log(`[${name}] secret scan: ${planted.all().length} planted values, ${Object.keys(captured).length} captures, ${leaks.length} leaks`);
    for (const leak of leaks) console.log(`[${name}] LEAK ${leak}`);
    expect(leaks).toEqual([]);
  });
  return { cleanups, planted, captured };
}

/** POSTs every body with `concurrency` requests in flight; returns the statuses in order and the answers' Retry-After. */
export async function postAll(h: HeraldProcess, bodies: (i: number) => string, count: number, concurrency: number) {
  const statuses: number[] = new Array(count);
  const retryAfter: Array<string | null> = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        try {
          const res = await h.postEvent(undefined, { body: bodies(i) });
          await res.arrayBuffer();
          statuses[i] = res.status;
          retryAfter[i] = res.headers.get('retry-after');
        } catch {
          statuses[i] = 0;
        }
      }
    }),
  );
  return { statuses, retryAfter };
}

/** How many answers had each status. */
export function tallyOf(statuses: number[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const s of statuses) t[s] = (t[s] ?? 0) + 1;
  return t;
}
