/**
 * The events address end to end, Herald running as a process: what each kind of input gets.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kustomizationEvent } from '../support/events.js';
import { metricValue, startHerald, type HeraldProcess } from '../support/herald.js';
import { statusBeforeBody } from '../support/raw-http.js';
import { startSink, type Sink } from '../support/sink.js';
import { kustomizationAlert, webhookProvider } from './manifests.js';

let sink: Sink;
let herald: HeraldProcess;

beforeAll(async () => {
  sink = await startSink();
  herald = await startHerald({
    manifests: { 'provider.yaml': webhookProvider({ address: `${sink.url}/hook` }), 'alert.yaml': kustomizationAlert() },
  });
});

afterAll(async () => {
  await herald?.stop();
  await herald?.cleanup();
  await sink?.close();
});

async function expectError(res: Response, status: number, message: RegExp): Promise<void> {
  expect(res.status).toBe(status);
  const body = (await res.json()) as { message: string };
  expect(body.message).toMatch(message);
}

describe('POST / answers', () => {
  it('202 for a matching event, and the notification arrives', async () => {
    const res = await herald.postEvent(kustomizationEvent({ message: 'intake: delivered' }));
    expect(res.status).toBe(202);
    const [req] = await sink.waitFor(1);
    expect(JSON.parse(req?.body ?? '').message).toBe('intake: delivered');
  });

  it('429 for a duplicate inside the rate-limit window, even with another severity', async () => {
    const event = kustomizationEvent({ message: 'intake: twice' });
    expect((await herald.postEvent(event)).status).toBe(202);
    expect((await herald.postEvent({ ...event, severity: 'error' })).status).toBe(429);
  });

  it('202 for an event no Alert takes, counted as unmatched', async () => {
    const res = await herald.postEvent(kustomizationEvent({ involvedObject: { kind: 'GitRepository', name: 'x', namespace: 'flux-system' } }));
    expect(res.status).toBe(202);
    expect(metricValue(await herald.metrics(), 'herald_events_received_total', { outcome: 'unmatched' })).toBeGreaterThanOrEqual(1);
  });

  it('400 for a body that is not JSON', async () => {
    await expectError(await herald.postEvent(null, { body: '{"involvedObject": ' }), 400, /JSON/i);
  });

  it('400 naming the missing field', async () => {
    const { involvedObject, ...rest } = kustomizationEvent();
    await expectError(await herald.postEvent({ ...rest, involvedObject: { ...involvedObject, name: undefined } }), 400, /involvedObject.*name/);
  });

  it('400 naming an unknown severity', async () => {
    await expectError(await herald.postEvent({ ...kustomizationEvent(), severity: 'critical' }), 400, /severity/);
  });

  it('400 for a value of the wrong type, not silently converted', async () => {
    await expectError(await herald.postEvent({ ...kustomizationEvent(), message: 42 }), 400, /message/);
  });

  it('400 naming a metadata value that is not a string', async () => {
    await expectError(await herald.postEvent({ ...kustomizationEvent(), metadata: { a: { b: 1 } } }), 400, /metadata/);
  });

  it('415 for a content type other than JSON', async () => {
    const res = await herald.postEvent(null, { body: 'hello', headers: { 'content-type': 'text/plain' } });
    expect(res.status).toBe(415);
  });

  it('413 for a body over 3 MiB, and the service keeps running', async () => {
    // Answered from the declared length, before any of the body is read (see statusBeforeBody).
    expect(await statusBeforeBody(`${herald.eventsUrl}/`, 3 * 1024 * 1024 + 1)).toBe(413);
    expect((await herald.postEvent(kustomizationEvent({ message: 'after 413' }))).status).toBe(202);
  });

  it('counts every outcome in /metrics', async () => {
    const text = await herald.metrics();
    for (const outcome of ['accepted', 'duplicate', 'unmatched', 'invalid', 'too_large']) {
      expect(metricValue(text, 'herald_events_received_total', { outcome }), outcome).toBeGreaterThanOrEqual(1);
    }
    expect(text).toContain('herald_http_request_duration_seconds_bucket');
    expect(text).toContain('process_resident_memory_bytes');
  });
});

describe('health', () => {
  it('/healthz and /readyz answer 200 with the checks', async () => {
    expect((await fetch(`${herald.healthUrl}/healthz`)).status).toBe(200);
    const ready = await fetch(`${herald.healthUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', checks: [{ name: 'resources', ok: true }, { name: 'queue', ok: true }] });
  });
});

describe('POST / refuses what could never be delivered', () => {
  it('400 for a reportingController with control characters (it becomes an HTTP header)', async () => {
    const res = await herald.postEvent({ ...kustomizationEvent({ message: 'ctl' }), reportingController: 'kustomize\r\nX-Injected: 1' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/reportingController/);
  });
});
