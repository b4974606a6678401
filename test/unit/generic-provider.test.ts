import { createHmac } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generic, genericHmac } from '../../providers/generic.js';
import { preparedOf, problemOf } from '../support/adapter-harness.js';
import { createHttpClient, DeliveryError } from '../../providers/http.js';
import { fluxEventJson } from '../../src/events/wire.js';
import { kustomizationEvent } from '../support/events.js';
import { testProviderConfig } from '../support/provider-config.js';
import { startSink, type Sink } from '../support/sink.js';

describe('fluxEventJson (Go encoding/json compatible)', () => {
  it('uses struct field order, sorted metadata keys, second-precision UTC time and omits empty optionals', () => {
    const json = fluxEventJson({
      involvedObject: { kind: 'Kustomization', name: 'apps', namespace: 'flux-system', apiVersion: 'kustomize.toolkit.fluxcd.io/v1' },
      severity: 'info',
      timestamp: '2026-11-24T10:00:00.123+01:00',
      message: 'ok',
      reason: 'ReconciliationSucceeded',
      metadata: { z: '1', a: '2' },
      reportingController: 'kustomize-controller',
    });
    expect(json).toBe(
      '{"involvedObject":{"kind":"Kustomization","namespace":"flux-system","name":"apps","apiVersion":"kustomize.toolkit.fluxcd.io/v1"},' +
        '"severity":"info","timestamp":"2026-11-24T09:00:00Z","message":"ok","reason":"ReconciliationSucceeded",' +
        '"metadata":{"a":"2","z":"1"},"reportingController":"kustomize-controller"}',
    );
  });

  it('escapes <, >, & and line separators as Go does, keeps non-ASCII', () => {
    const json = fluxEventJson({ ...kustomizationEvent(), metadata: {}, message: 'a<b>&c\u2028 "q" ü\n' });
    expect(json).toContain('"message":"a\\u003cb\\u003e\\u0026c\\u2028 \\"q\\" ü\\n"');
    expect(json).not.toContain('"metadata"');
    expect(JSON.parse(json).message).toBe('a<b>&c\u2028 "q" ü\n');
  });

  it('writes a missing timestamp as null', () => {
    expect(fluxEventJson({ ...kustomizationEvent(), timestamp: undefined })).toContain('"timestamp":null');
  });
});

describe('fluxEventJson map key order', () => {
  it("sorts metadata keys by their UTF-8 bytes as Go does, not by JS's UTF-16 order", () => {
    // U+FF71 is EF BD B1 in UTF-8, U+1F600 is F0 9F 98 80: Go puts the first one first,
    // while UTF-16 (0xFF71 against the surrogate 0xD83D) would put it last.
    const json = fluxEventJson(kustomizationEvent({ metadata: { '\u{1F600}': 'b', '\uFF71': 'a', z: 'c' } }));
    expect(json).toContain('"metadata":{"z":"c","\uFF71":"a","\u{1F600}":"b"}');
  });
});

describe('generic and generic-hmac adapters', () => {
  let sink: Sink;
  beforeEach(async () => {
    sink = await startSink();
  });
  afterEach(async () => {
    await sink.close();
  });

  it('generic POSTs the event with Gotk-Component and the Secret headers', async () => {
    const config = testProviderConfig({ type: 'generic', address: `${sink.url}/hook?x=1`, headers: { Authorization: 'Bearer abcd' } });
    const event = kustomizationEvent({ metadata: { revision: 'main@sha1:1', 'quote"d': 'ünïcode\n**md**' } });
    await generic.send(event, { config, prepared: preparedOf(generic, config), http: createHttpClient(config) });
    const [req] = await sink.waitFor(1);
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe('/hook?x=1');
    expect(req?.headers['gotk-component']).toBe('kustomize-controller');
    expect(req?.headers['content-type']).toBe('application/json');
    expect(req?.headers.authorization).toBe('Bearer abcd');
    expect(req?.body).toBe(fluxEventJson(event));
  });

  it('generic-hmac signs the exact body with the token', async () => {
    const config = testProviderConfig({ type: 'generic-hmac', address: sink.url, token: 'hmac-secret-key' });
    const event = kustomizationEvent();
    await genericHmac.send(event, { config, prepared: preparedOf(genericHmac, config), http: createHttpClient(config) });
    const [req] = await sink.waitFor(1);
    const expected = createHmac('sha256', 'hmac-secret-key').update(req?.body ?? '').digest('hex');
    expect(req?.headers['x-signature']).toBe(`sha256=${expected}`);
  });

  it("generic-hmac's X-Signature replaces one the Secret's headers set, whatever its case", async () => {
    const config = testProviderConfig({
      type: 'generic-hmac',
      address: sink.url,
      token: 'hmac-secret-key',
      headers: { 'X-SIGNATURE': 'from-the-secret', 'Content-TYPE': 'text/plain', 'X-Team': 'platform' },
    });
    await genericHmac.send(kustomizationEvent(), { config, prepared: preparedOf(genericHmac, config), http: createHttpClient(config) });
    const [req] = await sink.waitFor(1);
    const expected = createHmac('sha256', 'hmac-secret-key').update(req?.body ?? '').digest('hex');
    // Two headers of one name would arrive joined ("from-the-secret, sha256=…").
    expect(req?.headers['x-signature']).toBe(`sha256=${expected}`);
    expect(req?.headers['content-type']).toBe('application/json');
    expect(req?.headers['x-team']).toBe('platform');
  });

  it('sends with what prepare made, not by reading the configuration again', async () => {
    const config = testProviderConfig({ type: 'generic-hmac', address: sink.url, token: 'hmac-secret-key' });
    const prepared = preparedOf(genericHmac, config);
    const changedSince = { ...config, address: 'not a url', token: undefined };
    await genericHmac.send(kustomizationEvent(), { config: changedSince, prepared, http: createHttpClient(config) });
    const [req] = await sink.waitFor(1);
    const expected = createHmac('sha256', 'hmac-secret-key').update(req?.body ?? '').digest('hex');
    expect(req?.headers['x-signature']).toBe(`sha256=${expected}`);
  });

  it("sends a header value beyond Latin-1 as its UTF-8 bytes, as Go does, instead of failing every attempt", async () => {
    const config = testProviderConfig({ type: 'generic', address: sink.url, headers: { 'X-Team': 'équipe 日本' } });
    const event = kustomizationEvent({ reportingController: 'kustomize-contrôleur-🚀' });
    await generic.send(event, { config, prepared: preparedOf(generic, config), http: createHttpClient(config) });
    const [req] = await sink.waitFor(1);
    // Node hands raw header bytes over as Latin-1: decoding them as UTF-8 gives the text back.
    expect(Buffer.from(String(req?.headers['gotk-component']), 'latin1').toString('utf8')).toBe('kustomize-contrôleur-🚀');
    expect(Buffer.from(String(req?.headers['x-team']), 'latin1').toString('utf8')).toBe('équipe 日本');
  });

  it('does not retry a request that cannot be sent at all (a Secret header with a line break)', async () => {
    const config = testProviderConfig({ type: 'generic', address: sink.url, headers: { 'X-Bad': 'one\r\ntwo' } });
    const failure = await generic.send(kustomizationEvent(), { config, prepared: preparedOf(generic, config), http: createHttpClient(config) }).then(
      () => undefined,
      (err: unknown) => err as DeliveryError,
    );
    expect(failure).toBeInstanceOf(DeliveryError);
    expect(failure?.retryable).toBe(false);
    expect(sink.requests).toHaveLength(0);
  });

  it('generic-hmac is not usable without a token', () => {
    expect(problemOf(genericHmac, testProviderConfig({ type: 'generic-hmac', address: sink.url }))).toMatch(/token/);
  });
});
