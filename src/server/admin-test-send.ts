/**
 * `POST /providers/:namespace/:name/test`: one test notification sent at once through the
 * Provider's real path — its adapter, with its prepared configuration, over the HTTP client
 * deliveries use (proxy, TLS, masking, the refusal of Herald's own listeners) — and never
 * through the queue, so the answer is the provider's own.
 *
 * Bounds: one test in flight per Provider (the caller answers 429 otherwise), so the in-flight
 * set holds at most one entry per Provider; the provider's answer is read as deliveries read it
 * (see `MAX_ANSWER_BYTES` in providers/http.ts) and handed back cut to TEST_ANSWER_BYTES, masked.
 */
import type { HttpClient, HttpRequest, HttpResponse } from '../../providers/contract.js';
import { DeliveryError } from '../../providers/http.js';
import type { FluxEvent } from '../events/event.js';
import type { HttpClients } from '../delivery/http-clients.js';
import type { Logger } from '../observability/logger.js';
import type { ResourceStore } from '../resources/store.js';
import { objectKey } from '../api/types.js';

/** The most of the provider's answer (or of the error) handed back, in bytes. */
export const TEST_ANSWER_BYTES = 1024;

export type TestSendResult =
  | { ok: true; status?: number; answer?: string; durationMs: number }
  | { ok: false; error: string; durationMs: number };

export interface ProviderTesterDeps {
  store: ResourceStore;
  clients: HttpClients;
  logger: Logger;
}

export class ProviderTester {
  private readonly inFlight = new Set<string>();

  constructor(private readonly deps: ProviderTesterDeps) {}

  /** The outcome, or `not-found` for an unknown Provider, or `busy` while a test of it is under way. */
  async send(namespace: string, name: string, message?: string): Promise<TestSendResult | 'not-found' | 'busy'> {
    const key = objectKey({ namespace, name });
    const provider = this.deps.store.provider(namespace, name);
    if (!provider) return 'not-found';
    if (this.inFlight.has(key)) return 'busy';
    this.inFlight.add(key);
    const started = performance.now();
    const durationMs = () => Math.round(performance.now() - started);
    let mask = (text: string) => text;
    let result: TestSendResult;
    try {
      if (!provider.ready || !provider.adapter || !provider.config) {
        result = { ok: false, error: `provider is not ready (${provider.reason}): ${provider.message}`, durationMs: durationMs() };
      } else {
        const http = this.deps.clients.clientFor(key, provider);
        if (!http) throw new Error('the Provider changed while the test started; try again');
        mask = http.mask;
        const recorder = recordingClient(http);
        const event = testEvent(namespace, name, provider.resource.apiVersion, provider.resource.metadata.uid, message);
        await provider.adapter.send(event, {
          config: provider.config,
          prepared: provider.prepared,
          http: recorder.client,
          alert: { namespace, name: 'herald-test', uid: '' },
        });
        const last = recorder.last();
        result = {
          ok: true,
          ...(last ? { status: last.status, answer: cutToBytes(mask(last.body), TEST_ANSWER_BYTES) } : {}),
          durationMs: durationMs(),
        };
      }
    } catch (err) {
      // DeliveryError messages are masked by the HTTP layer already; anything else is masked here.
      const text = err instanceof DeliveryError ? err.message : err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      result = { ok: false, error: cutToBytes(mask(text), TEST_ANSWER_BYTES), durationMs: durationMs() };
    } finally {
      this.inFlight.delete(key);
    }
    const fields = { provider: key, type: provider.adapter?.type, ok: result.ok, ms: result.durationMs };
    if (result.ok) this.deps.logger.info({ ...fields, status: result.status }, 'test notification sent');
    else this.deps.logger.warn({ ...fields, err: result.error }, 'test notification failed');
    return result;
  }
}

/** The event a test sends: about the Provider itself, so that it reads as what it is wherever it lands. */
function testEvent(namespace: string, name: string, apiVersion: string, uid: string | undefined, message?: string): FluxEvent {
  return {
    involvedObject: { kind: 'Provider', namespace, name, apiVersion, ...(uid ? { uid } : {}) },
    severity: 'info',
    timestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    message: message ?? `Test notification from Herald for Provider ${namespace}/${name}`,
    reason: 'TestNotification',
    reportingController: 'herald',
    metadata: {},
  };
}

/** The client, and the last answer it got (adapters resolve with nothing; the answer is what an operator wants to see). */
function recordingClient(http: HttpClient): { client: HttpClient; last: () => HttpResponse | undefined } {
  let last: HttpResponse | undefined;
  return {
    client: {
      mask: (text) => http.mask(text),
      async send(req: HttpRequest) {
        const res = await http.send(req);
        last = res;
        return res;
      },
    },
    last: () => last,
  };
}

const CUT_MARK = '… (cut)';

/** `text` in at most `bytes` UTF-8 bytes, marked when cut (never a broken character). */
export function cutToBytes(text: string, bytes: number): string {
  const encoded = Buffer.from(text, 'utf8');
  if (encoded.length <= bytes) return text;
  const room = bytes - Buffer.byteLength(CUT_MARK);
  return `${encoded.subarray(0, room).toString('utf8').replace(/\uFFFD+$/, '')}${CUT_MARK}`;
}
