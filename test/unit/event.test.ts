import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { apiGroup, cleanupMetadata, rateLimitKey, type FluxEvent } from '../../src/events/event.js';
import { kustomizationEvent } from '../support/events.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('apiGroup', () => {
  it.each([
    ['kustomize.toolkit.fluxcd.io/v1', 'kustomize.toolkit.fluxcd.io'],
    ['v1', ''],
    [undefined, ''],
  ])('%s → %s', (apiVersion, group) => {
    expect(apiGroup({ kind: 'K', name: 'n', apiVersion })).toBe(group);
  });
});

describe('cleanupMetadata', () => {
  it('keeps only the fields of Flux\'s Event, as Go\'s decoder does', () => {
    const event = {
      involvedObject: { kind: 'Kustomization', name: 'apps', namespace: 'ns', extra: [[[]]] },
      severity: 'info',
      message: 'm',
      unknown: { deep: [[[]]] },
    } as unknown as FluxEvent;
    expect(cleanupMetadata(event)).toEqual({
      involvedObject: { kind: 'Kustomization', name: 'apps', namespace: 'ns' },
      severity: 'info',
      message: 'm',
      metadata: {},
    });
  });

  it('keeps event.toolkit.fluxcd.io/ and the involved group keys, drops the rest', () => {
    const event = kustomizationEvent({
      metadata: {
        'kustomize.toolkit.fluxcd.io/revision': 'main@sha1:abc',
        'event.toolkit.fluxcd.io/env': 'prod',
        'helm.toolkit.fluxcd.io/revision': 'other group',
        'kustomize.toolkit.fluxcd.io/checksum': 'dropped',
        'Kustomize.Toolkit.Fluxcd.IO/Digest': 'dropped case-insensitively',
        unrelated: 'x',
      },
    });
    expect(cleanupMetadata(event).metadata).toEqual({
      'kustomize.toolkit.fluxcd.io/revision': 'main@sha1:abc',
      'event.toolkit.fluxcd.io/env': 'prod',
    });
  });

  it('gives an empty map when the event has none, and does not mutate its input', () => {
    const event: FluxEvent = { ...kustomizationEvent(), metadata: undefined };
    expect(cleanupMetadata(event).metadata).toEqual({});
    expect(event.metadata).toBeUndefined();
  });

  it('drops group keys when the involved object has no apiVersion', () => {
    const event = kustomizationEvent({ metadata: { 'kustomize.toolkit.fluxcd.io/revision': 'r', 'event.toolkit.fluxcd.io/a': 'b' } });
    event.involvedObject = { ...event.involvedObject, apiVersion: undefined };
    expect(cleanupMetadata(event).metadata).toEqual({ 'event.toolkit.fluxcd.io/a': 'b' });
  });
});

describe('rateLimitKey', () => {
  const base = kustomizationEvent({ metadata: {} });
  it.each<[string, Record<string, string>, string]>([
    ['object and message only', {}, 'event/name=apps/namespace=flux-system/kind=Kustomization/message=Reconciliation finished in 1.2s, next run in 10m0s'],
    [
      'with revision',
      { 'kustomize.toolkit.fluxcd.io/revision': 'main@sha1:abc' },
      'event/name=apps/namespace=flux-system/kind=Kustomization/message=Reconciliation finished in 1.2s, next run in 10m0s/revision=main@sha1:abc',
    ],
    [
      'originRevision, revision and token in that order',
      {
        'kustomize.toolkit.fluxcd.io/token': 't',
        'kustomize.toolkit.fluxcd.io/revision': 'r',
        'kustomize.toolkit.fluxcd.io/originRevision': 'o',
      },
      'event/name=apps/namespace=flux-system/kind=Kustomization/message=Reconciliation finished in 1.2s, next run in 10m0s/originRevision=o/revision=r/token=t',
    ],
  ])('%s', (_name, metadata, key) => {
    expect(rateLimitKey({ ...base, metadata })).toBe(sha(key));
  });

  it('ignores severity and reason', () => {
    expect(rateLimitKey({ ...base, severity: 'error', reason: 'Other' })).toBe(rateLimitKey(base));
  });

  it('ignores revision metadata of another group', () => {
    expect(rateLimitKey({ ...base, metadata: { 'helm.toolkit.fluxcd.io/revision': 'x' } })).toBe(rateLimitKey(base));
  });
});
