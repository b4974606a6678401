/** The dispatcher's Kubernetes-mode hooks: the label look-up it is given, and Events for an Alert's dispatch problems. */
import { describe, expect, it, vi } from 'vitest';
import { EventDispatcher } from '../../src/delivery/dispatcher.js';
import type { QueuedJob } from '../../src/delivery/job.js';
import type { DeliveryQueue } from '../../src/delivery/queue.js';
import type { Logger } from '../../src/observability/logger.js';
import { Metrics } from '../../src/observability/metrics.js';
import type { AlertEventSink } from '../../src/resources/kubernetes/event-recorder.js';
import { ResourceStore } from '../../src/resources/store.js';
import type { Alert, Provider } from '../../src/api/types.js';
import { kustomizationEvent } from '../support/events.js';

const NS = 'flux-system';
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined } as unknown as Logger;

function provider(name: string, spec: Partial<Provider['spec']> = {}): Provider {
  return {
    apiVersion: 'notification.toolkit.fluxcd.io/v1beta3',
    kind: 'Provider',
    metadata: { name, namespace: NS },
    spec: { type: 'generic', address: 'https://hooks.example.com/x', ...spec },
  };
}

function alert(name: string, spec: Partial<Alert['spec']>): Alert {
  return {
    apiVersion: 'notification.toolkit.fluxcd.io/v1beta3',
    kind: 'Alert',
    metadata: { name, namespace: NS, uid: `uid-${name}` },
    spec: { providerRef: { name: 'hook' }, eventSources: [{ kind: 'Kustomization', name: '*' }], ...spec },
  };
}

function setUp(objects: Array<Provider | Alert>) {
  const store = new ResourceStore();
  store.replaceAll(objects, []);
  const jobs: QueuedJob[] = [];
  const queue = { add: async (added: QueuedJob[]) => void jobs.push(...added) } as unknown as DeliveryQueue;
  const warnings: Array<{ alert: string; uid?: string; apiVersion?: string; reason: string; message: string; annotations?: Record<string, string> }> = [];
  const alertEvents: AlertEventSink = {
    warning: (ref, reason, message, annotations) =>
      warnings.push({ alert: `${ref.namespace}/${ref.name}`, uid: ref.uid, apiVersion: ref.apiVersion, reason, message, ...(annotations ? { annotations } : {}) }),
  };
  return { store, jobs, warnings, alertEvents, queue };
}

describe('an Alert whose Provider is missing', () => {
  it('counts the dropped notification in herald_events_dropped_total{reason="provider_missing"}', async () => {
    const { store, queue, jobs } = setUp([provider('hook'), alert('a', {}), alert('orphan', { providerRef: { name: 'missing' } })]);
    const metrics = new Metrics({ processMetrics: false });
    expect(await metrics.render()).toMatch(/^herald_events_dropped_total\{reason="provider_missing"\} 0$/m);
    const dispatcher = new EventDispatcher({ store, queue, metrics, logger: quiet });
    expect(await dispatcher.dispatch(kustomizationEvent())).toEqual({ matched: 2, enqueued: 1 });
    expect(await dispatcher.dispatch(kustomizationEvent({ message: 'second' }))).toEqual({ matched: 2, enqueued: 1 });
    expect(jobs).toHaveLength(2);
    expect(await metrics.render()).toMatch(/^herald_events_dropped_total\{reason="provider_missing"\} 2$/m);
  });

  it("says so on the Alert's status: Ready=False, ProviderNotFound, naming the Provider", async () => {
    const { store } = setUp([alert('orphan', { providerRef: { name: 'missing' } })]);
    const status = store.statuses().resources.find((r) => r.kind === 'Alert' && r.name === 'orphan');
    expect(status?.ready).toMatchObject({
      status: 'False',
      reason: 'ProviderNotFound',
      message: `Provider '${NS}/missing' named by spec.providerRef was not found`,
    });
  });
});

describe('EventDispatcher in Kubernetes mode', () => {
  it("records NotificationDispatchFailed with Flux's message when the Alert's Provider does not exist", async () => {
    const { store, queue, jobs, warnings, alertEvents } = setUp([alert('orphan', { providerRef: { name: 'missing' } })]);
    const dispatcher = new EventDispatcher({ store, queue, metrics: new Metrics(), logger: quiet, alertEvents });
    expect(await dispatcher.dispatch(kustomizationEvent())).toEqual({ matched: 1, enqueued: 0 });
    expect(jobs).toHaveLength(0);
    expect(warnings).toEqual([
      {
        alert: `${NS}/orphan`,
        uid: 'uid-orphan',
        apiVersion: 'notification.toolkit.fluxcd.io/v1beta3',
        reason: 'NotificationDispatchFailed',
        message: `failed to dispatch notification for Kustomization/${NS}/apps: failed to read provider: Provider.notification.toolkit.fluxcd.io "missing" not found`,
      },
    ]);
  });

  it("records Flux's MetadataAppendFailed when metadata keys come from more than one source, annotated with each key's sources", async () => {
    const { store, queue, jobs, warnings, alertEvents } = setUp([
      provider('hook'),
      alert('a', { summary: 'old style', eventMetadata: { summary: 'new style', env: 'prod' } }),
    ]);
    const dispatcher = new EventDispatcher({ store, queue, metrics: new Metrics(), logger: quiet, alertEvents });
    const event = kustomizationEvent({ metadata: { 'kustomize.toolkit.fluxcd.io/env': 'from-controller' } });
    expect(await dispatcher.dispatch(event)).toEqual({ matched: 1, enqueued: 1 });
    expect(jobs).toHaveLength(1);
    expect(warnings).toEqual([
      {
        alert: `${NS}/a`,
        uid: 'uid-a',
        apiVersion: 'notification.toolkit.fluxcd.io/v1beta3',
        reason: 'MetadataAppendFailed',
        message: 'metadata key conflicts detected (please refer to the Alert API docs and Flux RFC 0008 for more information)',
        annotations: {
          env: 'Alert object .spec.eventMetadata, involved object controller metadata',
          summary: 'Alert object .spec.eventMetadata, Alert object .spec.summary',
        },
      },
    ]);
  });

  it('records it when the Provider is not ready, and still queues the notification for retries', async () => {
    const { store, queue, jobs, warnings, alertEvents } = setUp([provider('hook', { secretRef: { name: 'absent' } }), alert('a', {})]);
    const dispatcher = new EventDispatcher({ store, queue, metrics: new Metrics(), logger: quiet, alertEvents });
    expect(await dispatcher.dispatch(kustomizationEvent())).toEqual({ matched: 1, enqueued: 1 });
    expect(jobs).toHaveLength(1);
    expect(warnings[0]?.message).toMatch(
      new RegExp(`^failed to dispatch notification for Kustomization/${NS}/apps: provider '${NS}/hook' is not ready \\(SecretNotFound\\): `),
    );
  });

  it('records nothing for a ready or a suspended Provider', async () => {
    const { store, queue, warnings, alertEvents } = setUp([provider('hook'), provider('off', { suspend: true, secretRef: { name: 'absent' } }), alert('a', {}), alert('b', { providerRef: { name: 'off' } })]);
    const dispatcher = new EventDispatcher({ store, queue, metrics: new Metrics(), logger: quiet, alertEvents });
    await dispatcher.dispatch(kustomizationEvent());
    expect(warnings).toEqual([]);
  });

  it('asks the label look-up it is given, not the store', async () => {
    const { store, queue, jobs } = setUp([provider('hook'), alert('labelled', { eventSources: [{ kind: 'Kustomization', name: '*', matchLabels: { team: 'a' } }] })]);
    const labels = vi.fn(async () => ({ team: 'a' }));
    const dispatcher = new EventDispatcher({ store, queue, metrics: new Metrics(), logger: quiet, labels });
    expect(await dispatcher.dispatch(kustomizationEvent())).toEqual({ matched: 1, enqueued: 1 });
    expect(labels).toHaveBeenCalledWith(expect.objectContaining({ kind: 'Kustomization', name: 'apps', namespace: NS }));
    expect(jobs).toHaveLength(1);
  });
});
