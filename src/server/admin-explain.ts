/**
 * `POST /explain` on the admin listener: body `{"event": <Flux event>}`, answer
 * `{"alerts": [...], "droppedMetadata": [...]}`: for every Alert, whether the event would fire
 * it and why, and what its Provider would receive (`alerts/explain.ts`). Nothing is queued or
 * sent. `herald explain` uses the same function offline, on a manifests directory.
 */
import type { FastifyInstance } from 'fastify';
import { explainEvent, type AlertExplanation } from '../alerts/explain.js';
import type { LabelLookup } from '../alerts/matcher.js';
import { cleanupMetadata, eventSchema, type FluxEvent } from '../events/event.js';
import type { ResourceStore } from '../resources/store.js';

/** Where explanations come from: the live store, and the label look-up the dispatcher uses. */
export interface ExplainContext {
  store: ResourceStore;
  /** The involved object's labels (Kubernetes mode); the store's own by default. */
  labels?: LabelLookup;
}

export interface ExplainResult {
  alerts: AlertExplanation[];
  /** Metadata keys of the event that Flux's clean-up removes on arrival, so no Provider sees them. */
  droppedMetadata: string[];
}

/** A Flux event is at most 3 MiB; the envelope around it leaves room for that, and no more. */
const EXPLAIN_BODY_LIMIT = 4 * 1024 * 1024;

export async function explainWithStore(context: ExplainContext, received: FluxEvent): Promise<ExplainResult> {
  const { store } = context;
  const event = cleanupMetadata(received);
  const kept = new Set(Object.keys(event.metadata ?? {}));
  const droppedMetadata = Object.keys(received.metadata ?? {}).filter((key) => !kept.has(key)).sort();
  const alerts = store.alerts.all();
  const compiledKeys = new Set(alerts.map((alert) => alert.key));
  // Alerts whose spec is too broken to compile are not in the index: say so, with their problems.
  const invalidAlerts = store
    .statuses()
    .resources.filter((s) => s.kind === 'Alert' && !compiledKeys.has(`${s.namespace}/${s.name}`))
    .map((s) => ({ key: `${s.namespace}/${s.name}`, problems: s.problems ?? [s.ready.message] }));
  const explained = await explainEvent({
    event,
    alerts,
    invalidAlerts,
    provider: (namespace, name) => store.provider(namespace, name),
    labels: context.labels ?? ((ref) => store.labelsOf(ref)),
    noCrossNamespaceRefs: store.alerts.noCrossNamespaceRefs,
  });
  return { alerts: explained, droppedMetadata };
}

const explainBody = {
  type: 'object',
  required: ['event'],
  properties: { event: eventSchema },
  additionalProperties: false,
} as const;

export function registerExplainRoute(app: FastifyInstance, context: ExplainContext): void {
  app.post<{ Body: { event: FluxEvent } }>('/explain', { schema: { body: explainBody }, bodyLimit: EXPLAIN_BODY_LIMIT }, async (req) =>
    explainWithStore(context, req.body.event),
  );
}
