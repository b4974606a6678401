/**
 * Keeps a second ResourceStore (the delivery thread's) in step with the one the resource source
 * feeds: what the source hands the store (snapshots, single objects, deletions) is copied, for
 * the kinds a delivery reads (Providers, their Secrets, Alerts), and applied on the other side
 * in the same order. Both stores then resolve each Provider from the same objects in the same
 * way; nothing derived (adapters, HTTP clients) crosses over. Alerts are kept there only as
 * objects by key (`DeliveryAlerts`): a delivery reads an Alert's uid and spec, never matches
 * events, so the thread does not validate and compile 10,000 Alerts a second time.
 */
import type { ManifestProblem } from '../resources/manifests.js';
import { ResourceStore, type ResourceStoreOptions } from '../resources/store.js';
import { NOTIFICATION_GROUP, groupOf, isAlert, isProvider, isSecret, objectKey, type Alert, type StoredObject } from '../api/types.js';

/** One call of the source on its store, as a message. */
export type StoreFeedOp =
  | { op: 'snapshot'; objects: StoredObject[] }
  | { op: 'upsert'; object: StoredObject }
  | { op: 'remove'; kind: string; namespace: string; name: string; apiVersion?: string };

/** What a delivery reads from the store: a Provider, the Secrets it names, the Alert it delivers for. */
function readByDelivery(object: StoredObject): boolean {
  return isProvider(object) || isSecret(object) || isAlert(object);
}

/** The store the resource source feeds, passing each feed on to `forward` before applying it. */
export class FeedingResourceStore extends ResourceStore {
  constructor(
    opts: ResourceStoreOptions,
    private readonly forward: (op: StoreFeedOp) => void,
  ) {
    super(opts);
  }

  override replaceAll(objects: readonly StoredObject[], problems: readonly ManifestProblem[]): void {
    this.forward({ op: 'snapshot', objects: objects.filter(readByDelivery) });
    super.replaceAll(objects, problems);
  }

  override replaceAllGradually(objects: readonly StoredObject[], problems: readonly ManifestProblem[], sliceMs?: number): Promise<void> {
    this.forward({ op: 'snapshot', objects: objects.filter(readByDelivery) });
    return super.replaceAllGradually(objects, problems, sliceMs);
  }

  override upsert(object: StoredObject): void {
    if (readByDelivery(object)) this.forward({ op: 'upsert', object });
    super.upsert(object);
  }

  override remove(kind: string, namespace: string, name: string, apiVersion?: string): void {
    this.forward({ op: 'remove', kind, namespace, name, apiVersion });
    super.remove(kind, namespace, name, apiVersion);
  }
}

/** The Alerts a delivery thread knows, by `namespace/name`: what its deliveries tell their adapter. */
export class DeliveryAlerts {
  private readonly byKey = new Map<string, Alert>();

  get(key: string): Alert | undefined {
    return this.byKey.get(key);
  }

  replaceAll(alerts: Iterable<Alert>): void {
    this.byKey.clear();
    for (const alert of alerts) this.set(alert);
  }

  set(alert: Alert): void {
    this.byKey.set(objectKey(alert.metadata), alert);
  }

  delete(namespace: string, name: string): void {
    this.byKey.delete(objectKey({ namespace, name }));
  }
}

/**
 * Applies forwarded feeds to `store` (Providers, Secrets) and `alerts`, in the order given. Snapshots are applied gradually (a
 * large one does not hold up the deliveries running beside it) and one at a time, as
 * `replaceAllGradually` requires; a snapshot superseded by a later one before it began is skipped.
 */
export class StoreFeedApplier {
  private pending: StoreFeedOp[] = [];
  private applying?: Promise<void>;

  constructor(
    private readonly store: ResourceStore,
    private readonly alerts: DeliveryAlerts,
  ) {}

  /** Queues `ops`; the promise settles once they (and every op queued before) are applied. */
  apply(ops: readonly StoreFeedOp[]): Promise<void> {
    this.pending.push(...ops);
    this.applying ??= this.drain().finally(() => (this.applying = undefined));
    return this.applying;
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0);
      let from = 0;
      // Everything before the last snapshot is replaced by it.
      for (let i = batch.length - 1; i >= 0; i--) if (batch[i]?.op === 'snapshot') { from = i; break; }
      for (const op of batch.slice(from)) {
        if (op.op === 'snapshot') {
          this.alerts.replaceAll(op.objects.filter(isAlert));
          await this.store.replaceAllGradually(
            op.objects.filter((object) => !isAlert(object)),
            [],
          );
        } else if (op.op === 'upsert') {
          if (isAlert(op.object)) this.alerts.set(op.object);
          else this.store.upsert(op.object);
        } else if (op.kind === 'Alert' && (op.apiVersion === undefined || groupOf(op.apiVersion) === NOTIFICATION_GROUP)) {
          this.alerts.delete(op.namespace, op.name);
        } else {
          this.store.remove(op.kind, op.namespace, op.name, op.apiVersion);
        }
      }
    }
  }
}
