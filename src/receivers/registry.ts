/**
 * The Receivers of the resource store, evaluated as Flux's controller evaluates them: each
 * stored Receiver validated (`validateReceiver`), its Secret resolved, its Ready condition and
 * `status.webhookPath` derived (`receiverReadiness`). Serves the receiver listener's look-up by
 * path and the resources endpoint's statuses (with the last verified request's time).
 *
 * Receivers are few: every store change evaluates all of them again, but a Receiver whose
 * stored object did not change is not validated again (its CEL filters compile once).
 */
import type { Logger, ReceiverObject, ReadyCondition } from '../api/types.js';
import type { ObjectEventSink } from '../resources/kubernetes/event-reasons.js';
import { objectKey } from '../api/types.js';
import type { ResourceStatus } from '../resources/store.js';
import type { ReceiverEntry, ReceiverLookup } from './routes.js';
import { ReceiverReasons, type Receiver } from './types.js';
import { receiverReadiness, validateReceiver, type ReceiverValidation } from './validate.js';

/** What the registry reads from the store. */
export interface ReceiverStoreView {
  receivers(): ReceiverObject[];
  secretData(namespace: string, name: string): Readonly<Record<string, string>> | undefined;
  on(event: 'changed', listener: () => void): unknown;
}

interface ReceiverState {
  entry: ReceiverEntry;
  condition: ReadyCondition;
  webhookPath: string;
  problems: string[];
  /** The manifest's fields Herald does not know. */
  warnings?: string[];
}

export class ReceiverRegistry implements ReceiverLookup {
  private states = new Map<string, ReceiverState>();
  private byPath = new Map<string, ReceiverEntry>();
  private readonly validations = new WeakMap<ReceiverObject, ReceiverValidation>();
  /** Per Receiver, when its last verified request came; only for Receivers that exist. */
  private readonly lastRequest = new Map<string, string>();
  private readonly listeners: Array<(keys: string[]) => void> = [];

  constructor(
    private readonly store: ReceiverStoreView,
    private readonly opts: {
      logger?: Logger;
      now?: () => Date;
      /**
       * The `status.webhookPath` a Receiver already carries (Kubernetes mode), for one Herald has
       * not evaluated yet: after a restart, a Receiver with a configuration error keeps the path
       * Flux or a previous Herald reported, as Flux's controller does.
       */
      reportedWebhookPath?: (namespace: string, name: string) => string | undefined;
      /** Kubernetes mode: where each Receiver's outcome is recorded as an Event, as Flux's controller does. */
      events?: ObjectEventSink;
    } = {},
  ) {
    store.on('changed', () => this.refresh());
    this.refresh();
  }

  byWebhookPath(path: string): ReceiverEntry | undefined {
    return this.byPath.get(path);
  }

  /** Notes a verified request, for the resources endpoint. */
  noteRequest(receiver: Receiver): void {
    const key = objectKey(receiver.metadata);
    if (this.states.has(key)) this.lastRequest.set(key, this.now().toISOString());
  }

  /** Called with the `namespace/name` of each Receiver whose Ready condition or path changed. */
  onChange(listener: (keys: string[]) => void): void {
    this.listeners.push(listener);
  }

  /** The state of one Receiver, for the Kubernetes status write-back. */
  status(namespace: string, name: string): { condition: ReadyCondition; webhookPath: string } | undefined {
    const state = this.states.get(objectKey({ namespace, name }));
    return state && { condition: state.condition, webhookPath: state.webhookPath };
  }

  statuses(): ResourceStatus[] {
    return [...this.states].map(([key, state]) => {
      const { metadata, spec } = state.entry.receiver;
      const status: ResourceStatus = { kind: 'Receiver', namespace: metadata.namespace, name: metadata.name, ready: state.condition, webhookPath: state.webhookPath };
      if (spec.suspend === true) status.suspended = true;
      if (state.problems.length > 0) status.problems = state.problems;
      if (state.warnings?.length) status.warnings = [...state.warnings];
      // Flux stalls a Receiver on a configuration error; a missing token is retried instead.
      if (state.condition.status === 'False' && state.condition.reason !== ReceiverReasons.TokenNotFound) status.stalled = true;
      const requested = reconcileRequested(state.entry.receiver);
      if (requested !== undefined) status.lastHandledReconcileAt = requested;
      const last = this.lastRequest.get(key);
      if (last) status.lastRequestAt = last;
      return status;
    });
  }

  /** Evaluates every stored Receiver again; returns the keys whose condition or path changed. */
  refresh(): string[] {
    const next = new Map<string, ReceiverState>();
    const changed: string[] = [];
    for (const object of this.store.receivers()) {
      let validation = this.validations.get(object);
      if (!validation) {
        validation = validateReceiver(object);
        this.validations.set(object, validation);
      }
      const receiver = validation.receiver;
      if (!receiver) continue; // no name: the store never holds one
      const key = objectKey(receiver.metadata);
      const previous = this.states.get(key);
      const secret = receiver.spec.secretRef ? this.store.secretData(receiver.metadata.namespace, receiver.spec.secretRef.name) : undefined;
      const readiness = receiverReadiness(
        receiver,
        validation.findings,
        secret,
        { ready: previous?.condition, webhookPath: previous ? previous.webhookPath : this.opts.reportedWebhookPath?.(receiver.metadata.namespace, receiver.metadata.name) },
        this.now(),
      );
      const ready = readiness.ready.status === 'True';
      const problems = ready ? [] : [readiness.ready.message];
      next.set(key, {
        entry: { receiver, ready, secret: readiness.secret ?? {} },
        condition: readiness.ready,
        webhookPath: readiness.webhookPath,
        problems,
        ...(object.warnings ? { warnings: object.warnings } : {}),
      });
      const moved =
        !previous ||
        previous.condition.status !== readiness.ready.status ||
        previous.condition.message !== readiness.ready.message ||
        previous.webhookPath !== readiness.webhookPath;
      if (moved) {
        changed.push(key);
        const fields = { kind: 'Receiver', resource: key, reason: readiness.ready.reason, message: readiness.ready.message };
        if (ready) this.opts.logger?.info(fields, 'Receiver is ready');
        else this.opts.logger?.warn(fields, 'Receiver is not ready');
      }
      // Flux's controller reconciles a Receiver when it is new, its spec changes or its Secret does.
      // …and when asked to (`flux reconcile receiver` sets the annotation and waits for lastHandledReconcileAt).
      const asked = reconcileRequested(receiver) !== (previous && reconcileRequested(previous.entry.receiver));
      if (moved || previous.entry.receiver.metadata.generation !== receiver.metadata.generation || asked) this.recordEvent(receiver, readiness.ready);
    }
    for (const key of this.states.keys()) {
      if (next.has(key)) continue;
      changed.push(key);
      this.lastRequest.delete(key);
    }
    this.states = next;
    this.byPath = new Map([...next.values()].filter((state) => state.webhookPath !== '').map((state) => [state.webhookPath, state.entry]));
    if (changed.length > 0) for (const listener of this.listeners) listener(changed.sort());
    return changed;
  }

  /**
   * The Event Flux's Receiver controller records after a reconcile: Normal `Succeeded`
   * ("Reconciliation finished, next run in <interval>") when Ready; Warning `Failed` with the
   * error when the token cannot be read; Warning with the condition's reason (`InvalidCELExpression`,
   * `ValidationFailed`) for a configuration error. Flux records one again at every interval;
   * Herald only when something changed (it watches the Secret instead of polling it).
   */
  private recordEvent(receiver: Receiver, condition: ReadyCondition): void {
    const events = this.opts.events;
    if (!events) return;
    const { namespace, name, uid } = receiver.metadata;
    const ref = { kind: 'Receiver', apiVersion: receiver.apiVersion, namespace, name, ...(uid && { uid }) };
    if (condition.status === 'True') {
      events.record(ref, 'Normal', ReceiverReasons.Succeeded, `Reconciliation finished, next run in ${goDuration(receiver.spec.interval ?? DEFAULT_INTERVAL)}`);
    } else {
      events.record(ref, 'Warning', condition.reason === ReceiverReasons.TokenNotFound ? 'Failed' : condition.reason, condition.message);
    }
  }

  private now(): Date {
    return this.opts.now?.() ?? new Date();
  }
}

/** The `reconcile.fluxcd.io/requestedAt` annotation's value (Flux's on-demand reconcile request), if set. */
function reconcileRequested(receiver: Receiver): string | undefined {
  return receiver.metadata.annotations?.['reconcile.fluxcd.io/requestedAt'];
}

/** Flux's default `spec.interval` for Receivers. */
const DEFAULT_INTERVAL = '10m';
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * A duration as Go's `time.Duration.String()` writes it (`10m0s`, `1h30m0s`, `45s`, `1.5s`,
 * `500ms`), which is how Flux's messages show intervals. Input: a validated `spec.interval`.
 */
export function goDuration(text: string): string {
  let ms = 0;
  for (const [, amount, unit] of text.matchAll(/([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/g)) ms += Number(amount) * (UNIT_MS[unit as string] ?? 0);
  ms = Math.round(ms);
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.floor((ms % 3_600_000) / 60_000);
  const seconds = ((ms % 60_000) / 1000).toString();
  if (hours > 0) return `${hours}h${minutes}m${seconds}s`;
  if (minutes > 0) return `${minutes}m${seconds}s`;
  return `${seconds}s`;
}
