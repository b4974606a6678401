import { describe, expect, it } from 'vitest';
import { notificationFor, providerAcceptsEvent } from '../../src/alerts/notification.js';
import { cleanupMetadata, type FluxEvent, type Severity } from '../../src/events/event.js';
import type { Alert, AlertSpec } from '../../src/api/types.js';
import { fluxEventJson } from '../../src/events/wire.js';
import { kustomizationEvent } from '../support/events.js';

const G = 'kustomize.toolkit.fluxcd.io';
const E = 'event.toolkit.fluxcd.io';

function alert(spec: Partial<AlertSpec> = {}): Alert {
  return {
    apiVersion: 'notification.toolkit.fluxcd.io/v1beta3',
    kind: 'Alert',
    metadata: { name: 'a', namespace: 'flux-system' },
    spec: { providerRef: { name: 'slack' }, eventSources: [{ kind: 'Kustomization', name: '*' }], ...spec },
  };
}

function cleanedEvent(metadata: Record<string, string>, severity: Severity = 'info'): FluxEvent {
  return cleanupMetadata(kustomizationEvent({ metadata, severity }));
}

describe('notificationFor: metadata precedence', () => {
  it.each<[string, Record<string, string>, Partial<AlertSpec>, Record<string, string> | undefined, string[]]>([
    ['strips the annotation prefix', { [`${E}/deploymentID`]: 'd1' }, {}, { deploymentID: 'd1' }, []],
    ['strips the controller prefix', { [`${G}/revision`]: 'main@sha1:abc' }, {}, { revision: 'main@sha1:abc' }, []],
    ['adds spec.eventMetadata as written', {}, { eventMetadata: { env: 'prod' } }, { env: 'prod' }, []],
    ['adds spec.summary as summary', {}, { summary: 'cluster impacted' }, { summary: 'cluster impacted' }, []],
    ['ignores an empty spec.summary', {}, { summary: '' }, undefined, []],
    ['eventMetadata beats an annotation', { [`${E}/env`]: 'dev' }, { eventMetadata: { env: 'prod' } }, { env: 'prod' }, ['env']],
    ['summary beats eventMetadata.summary', {}, { summary: 'spec', eventMetadata: { summary: 'meta' } }, { summary: 'spec' }, ['summary']],
    ['summary beats an annotation', { [`${E}/summary`]: 'annotation' }, { summary: 'spec' }, { summary: 'spec' }, ['summary']],
    [
      'controller metadata beats everything (an annotation cannot spoof the revision)',
      { [`${E}/revision`]: 'fake', [`${G}/revision`]: 'real' },
      { eventMetadata: { revision: 'alert' }, summary: 's' },
      { revision: 'real', summary: 's' },
      ['revision'],
    ],
    [
      'merges distinct keys from every source without conflicts',
      { [`${E}/a`]: '1', [`${G}/d`]: '4' },
      { eventMetadata: { b: '2' }, summary: '3' },
      { a: '1', b: '2', summary: '3', d: '4' },
      [],
    ],
    [
      'lists every conflicting key once, sorted',
      { [`${E}/z`]: '1', [`${E}/b`]: '1', [`${G}/z`]: '2' },
      { eventMetadata: { b: '2', z: '3' } },
      { b: '2', z: '2' },
      ['b', 'z'],
    ],
    ['removes the controller token', { [`${G}/token`]: 'secret', [`${G}/revision`]: 'r' }, {}, { revision: 'r' }, []],
    ['keeps a token annotation (only <group>/token is internal)', { [`${E}/token`]: 't' }, {}, { token: 't' }, []],
    ['has no metadata when no source sets any', {}, {}, undefined, []],
  ])('%s', (_why, metadata, spec, expected, conflicts) => {
    const result = notificationFor(cleanedEvent(metadata), alert(spec));
    expect(result.event.metadata).toEqual(expected);
    expect('metadata' in result.event).toBe(expected !== undefined);
    expect(result.conflicts).toEqual(conflicts);
  });

  it('keeps every other field and leaves its input alone', () => {
    const input = cleanedEvent({ [`${G}/revision`]: 'r', [`${G}/token`]: 't' });
    const before = structuredClone(input);
    const { event } = notificationFor(input, alert({ eventMetadata: { env: 'prod' } }));
    expect(input).toEqual(before);
    const { metadata: _input, ...rest } = input;
    const { metadata, ...sent } = event;
    expect(sent).toEqual(rest);
    expect(metadata).toEqual({ revision: 'r', env: 'prod' });
  });

  it('only takes annotation metadata when the involved object has no API group', () => {
    const base = kustomizationEvent({ metadata: { [`${E}/a`]: '1' } });
    const coreObject = cleanupMetadata({ ...base, involvedObject: { ...base.involvedObject, apiVersion: 'v1' } });
    expect(notificationFor(coreObject, alert()).event.metadata).toEqual({ a: '1' });
  });
});

describe('providerAcceptsEvent: commit-status routing', () => {
  const statusUpdate = { [`${G}/commit_status`]: 'update' };
  const commit = { [`${E}/commit`]: '6f1d5e3c8a2b4f7e9d0c1b2a3f4e5d6c7b8a9f0e' };
  const chat = { commitStatusProvider: false, providerType: 'slack' };
  const github = { commitStatusProvider: true, providerType: 'github' };

  it.each<[string, Record<string, string>, Severity, { commitStatusProvider: boolean; providerType: string }, boolean]>([
    ['a plain event goes to a chat provider', {}, 'info', chat, true],
    ['a status update does not go to a chat provider', statusUpdate, 'info', chat, false],
    ['a status update does not go to a chat provider even as an error', statusUpdate, 'error', chat, false],
    ['a status update goes to generic', statusUpdate, 'info', { commitStatusProvider: false, providerType: 'generic' }, true],
    ['a status update goes to generic-hmac too', statusUpdate, 'info', { commitStatusProvider: false, providerType: 'generic-hmac' }, true],
    ['a status update goes to a commit-status provider', statusUpdate, 'info', github, true],
    ['a marker other than update is not a status update', { [`${G}/commit_status`]: 'other' }, 'info', chat, true],
    ['a marker under another group is not a status update', { [`source.toolkit.fluxcd.io/commit_status`]: 'update' }, 'info', chat, true],
    ['a commit-status provider drops an info event without a commit', {}, 'info', github, false],
    ['a commit-status provider drops a trace event without a commit', {}, 'trace', github, false],
    ['a commit-status provider takes an error event without a commit', {}, 'error', github, true],
    ['a commit-status provider takes an event with a commit annotation', commit, 'info', github, true],
    ['an empty commit annotation is no commit', { [`${E}/commit`]: '' }, 'info', github, false],
    ['a chat provider takes an event with a commit annotation', commit, 'info', chat, true],
  ])('%s', (_why, metadata, severity, opts, accepted) => {
    expect(providerAcceptsEvent(cleanedEvent(metadata, severity), opts)).toBe(accepted);
  });
});

describe('notificationFor: keys named like Object.prototype members', () => {
  it('keeps __proto__, constructor and toString from every source, and serialises them in Go order', () => {
    // As the receiver parses it: JSON makes `…/__proto__` an ordinary key.
    const metadata = JSON.parse(
      `{"${G}/__proto__":"from-controller","${E}/constructor":"from-annotation","${E}/toString":"annotated","${E}/__proto__":"overridden"}`,
    ) as Record<string, string>;
    const eventMetadata = JSON.parse('{"__proto__":"from-alert","hasOwnProperty":"alert-key"}') as Record<string, string>;
    const { event, conflicts } = notificationFor(cleanedEvent(metadata), alert({ eventMetadata }));
    expect(Object.keys(event.metadata ?? {}).sort()).toEqual(['__proto__', 'constructor', 'hasOwnProperty', 'toString']);
    expect(event.metadata?.['__proto__']).toBe('from-controller');
    expect(event.metadata?.['constructor']).toBe('from-annotation');
    expect(conflicts).toEqual(['__proto__']);
    expect(fluxEventJson(event)).toContain(
      '"metadata":{"__proto__":"from-controller","constructor":"from-annotation","hasOwnProperty":"alert-key","toString":"annotated"}',
    );
  });

  it('does not read an inherited member for a key that is absent', () => {
    const { event } = notificationFor(cleanedEvent({ [`${E}/a`]: 'b' }), alert());
    expect(event.metadata?.['constructor']).toBeUndefined();
    expect(event.metadata?.['toString']).toBeUndefined();
  });
});

describe('providerAcceptsEvent: change-request comment routing (Flux drops events without the change request key)', () => {
  const changeRequest = { [`${E}/change_request`]: '42' };
  const types = ['githubpullrequestcomment', 'gitlabmergerequestcomment', 'giteapullrequestcomment'];

  it.each(types)('%s takes an event with the change request annotation, info or error', (providerType) => {
    const opts = { commitStatusProvider: false, providerType };
    expect(providerAcceptsEvent(cleanedEvent(changeRequest, 'info'), opts)).toBe(true);
    expect(providerAcceptsEvent(cleanedEvent(changeRequest, 'error'), opts)).toBe(true);
  });

  it.each(types)('%s drops an event without it, or with it empty, whatever the severity', (providerType) => {
    const opts = { commitStatusProvider: false, providerType };
    expect(providerAcceptsEvent(cleanedEvent({}, 'info'), opts)).toBe(false);
    expect(providerAcceptsEvent(cleanedEvent({}, 'error'), opts)).toBe(false);
    expect(providerAcceptsEvent(cleanedEvent({ [`${E}/change_request`]: '' }, 'info'), opts)).toBe(false);
    // Under the controller's group it is not the annotation Flux reads.
    expect(providerAcceptsEvent(cleanedEvent({ [`${G}/change_request`]: '42' }, 'info'), opts)).toBe(false);
  });

  it.each(types)('%s drops a commit status update even with the annotation', (providerType) => {
    const event = cleanedEvent({ ...changeRequest, [`${G}/commit_status`]: 'update' }, 'info');
    expect(providerAcceptsEvent(event, { commitStatusProvider: false, providerType })).toBe(false);
  });

  it('other providers do not need the annotation', () => {
    expect(providerAcceptsEvent(cleanedEvent({}, 'info'), { commitStatusProvider: false, providerType: 'slack' })).toBe(true);
    expect(providerAcceptsEvent(cleanedEvent({}, 'error'), { commitStatusProvider: true, providerType: 'github' })).toBe(true);
  });
});
