/**
 * Why an event fires an Alert or not, in words an operator can act on: for every Alert, each
 * check Flux makes (suspended, cross-namespace, each event source's namespace, kind, name and
 * labels, severity, inclusion, exclusion) with its verdict, and for a matching Alert what its
 * Provider would receive, or why it receives nothing.
 *
 * The verdicts come from the matcher's own checks (`takesSeverity`, `takesMessage`,
 * `carriesLabels`), the notification from `notificationFor` and the Provider's fate from
 * `routeToProvider`, the dispatcher's rule: an explanation cannot drift from what Herald does.
 */
import type { FluxEvent } from '../events/event.js';
import { objectKey } from '../api/types.js';
import type { CompiledAlert, CompiledSource } from './compile.js';
import { carriesLabels, lookUpLabels, takesMessage, takesSeverity, type LabelLookup } from './matcher.js';
import { notificationFor, routeToProvider, type RoutedProvider } from './notification.js';

export interface ExplainedProvider extends RoutedProvider {
  ready: boolean;
  reason: string;
  message: string;
}

export interface AlertExplanation {
  /** `namespace/name` of the Alert. */
  alert: string;
  matched: boolean;
  /** One line per check, in Flux's order; for an Alert that did not match, the failing ones say why. */
  reasons: string[];
  /** For a matching Alert: its Provider (`namespace/name`). */
  provider?: string;
  /** For a matching Alert whose Provider exists: its type (`unsupported` without an adapter). */
  providerType?: string;
  /** Why the Provider receives nothing although the Alert matched. */
  dropped?: string;
  /** What the Provider would receive (the event with its metadata merged for this Alert). */
  notification?: FluxEvent;
}

export interface ExplainInput {
  /** The event, already through `cleanupMetadata` (as the events listener hands it on). */
  event: FluxEvent;
  /** Every Alert, suspended ones included. */
  alerts: readonly CompiledAlert[];
  /** Alerts whose spec is not valid enough to match anything, with why (they are not compiled). */
  invalidAlerts?: ReadonlyArray<{ key: string; problems: string[] }>;
  provider(namespace: string, name: string): ExplainedProvider | undefined;
  labels: LabelLookup;
  noCrossNamespaceRefs: boolean;
}

/** Every Alert's verdict, ordered by key. */
export async function explainEvent(input: ExplainInput): Promise<AlertExplanation[]> {
  const { event } = input;
  let objectLabels: Promise<Record<string, string> | undefined> | undefined;
  // Looked up once, and only if some source needs them, as the matcher does.
  const labelsOnce = () => (objectLabels ??= lookUpLabels(input.labels, event.involvedObject));

  const explained: AlertExplanation[] = [];
  for (const compiled of input.alerts) explained.push(await explainAlert(compiled, input, labelsOnce));
  for (const { key, problems } of input.invalidAlerts ?? []) {
    explained.push({ alert: key, matched: false, reasons: [`the Alert is not valid, so it matches nothing: ${problems.join('; ')}`] });
  }
  return explained.sort((a, b) => (a.alert < b.alert ? -1 : a.alert > b.alert ? 1 : 0));
}

async function explainAlert(
  compiled: CompiledAlert,
  input: ExplainInput,
  labels: () => Promise<Record<string, string> | undefined>,
): Promise<AlertExplanation> {
  const { event } = input;
  const { alert } = compiled;
  const verdict = (matched: boolean, reasons: string[]): AlertExplanation => ({ alert: compiled.key, matched, reasons });
  if (alert.spec.suspend === true) return verdict(false, ['the Alert is suspended (spec.suspend: true)']);

  const reasons: string[] = [];
  const sourceReasons: string[] = [];
  let sourceMatched = false;
  for (const [i, source] of compiled.sources.entries()) {
    const why = await sourceVerdict(source, compiled, input, labels);
    const where = `spec.eventSources[${indexOf(compiled, source, i)}] ${describeSource(source)}`;
    if (why === undefined) {
      sourceMatched = true;
      sourceReasons.push(`${where} matches ${involved(event)}`);
      break;
    }
    sourceReasons.push(`${where} does not match: ${why}`);
  }
  if (compiled.sources.length === 0) sourceReasons.push('the Alert has no usable event source (see its status)');
  reasons.push(...sourceReasons);

  const wanted = alert.spec.eventSeverity ?? 'info';
  const severityOk = takesSeverity(compiled, event.severity);
  reasons.push(
    severityOk
      ? `severity ${event.severity} is taken (spec.eventSeverity ${wanted}${wanted === 'info' ? ' takes every severity' : ''})`
      : `severity ${event.severity} is not taken: spec.eventSeverity is ${wanted}, which takes only ${wanted} events`,
  );

  const messageOk = takesMessage(compiled, event.message);
  reasons.push(...messageReasons(compiled, event.message));

  const matched = sourceMatched && severityOk && messageOk;
  if (!matched) return verdict(false, reasons);

  const { namespace } = alert.metadata;
  const providerName = alert.spec.providerRef.name;
  const providerKey = objectKey({ namespace, name: providerName });
  const provider = input.provider(namespace, providerName);
  const route = routeToProvider(event, provider);
  const result: AlertExplanation = { ...verdict(true, reasons), provider: providerKey };
  if (route.action === 'missing' || !provider) {
    return { ...result, dropped: `Provider ${providerKey} was not found: nothing is sent (as in Flux)` };
  }
  result.providerType = route.providerType;
  if (route.action === 'suspended') return { ...result, dropped: `Provider ${providerKey} is suspended: nothing is sent` };
  if (route.action === 'dropped') {
    return { ...result, dropped: `provider type ${route.providerType} does not take this event (commit-status and change-request routing)` };
  }
  if (!provider.ready) {
    result.reasons.push(`Provider ${providerKey} is not ready (${provider.reason}): ${provider.message}; the notification is queued and retried until it is`);
  }
  return { ...result, notification: notificationFor(event, alert).event };
}

/** Why the source does not match the event, or undefined when it does (Flux's checks, in Flux's order). */
async function sourceVerdict(
  source: CompiledSource,
  compiled: CompiledAlert,
  input: ExplainInput,
  labels: () => Promise<Record<string, string> | undefined>,
): Promise<string | undefined> {
  const { involvedObject } = input.event;
  const alertNamespace = compiled.alert.metadata.namespace;
  if (input.noCrossNamespaceRefs && source.namespace !== alertNamespace) {
    return `it names namespace ${source.namespace}, and with --no-cross-namespace-refs the Alert only takes events from its own namespace ${alertNamespace}`;
  }
  const eventNamespace = involvedObject.namespace ?? '';
  if (source.namespace !== eventNamespace) return `namespace ${source.namespace} is not the event's ${eventNamespace || '(none)'}`;
  if (source.kind !== involvedObject.kind) return `kind ${source.kind} is not the event's ${involvedObject.kind}`;
  if (source.name !== '*' && source.name !== involvedObject.name) return `name ${source.name} is not the event's ${involvedObject.name}`;
  if (source.matchLabels === undefined) return undefined;
  const found = await labels();
  if (!found) return `matchLabels needs the object's labels, and ${involved(input.event)} was not found`;
  if (carriesLabels(found, source)) return undefined;
  const missing = source.matchLabels.filter(([key, value]) => found[key] !== value).map(([key, value]) => `${key}=${value}`);
  return `matchLabels: the object does not carry ${missing.join(', ')}`;
}

function messageReasons(compiled: CompiledAlert, message: string): string[] {
  const reasons: string[] = [];
  if (compiled.inclusion === undefined) reasons.push('no spec.inclusionList: every message is included');
  else {
    const hit = compiled.inclusion.find((regex) => regex.test(message));
    reasons.push(
      hit
        ? `spec.inclusionList pattern ${JSON.stringify(hit.source)} matches the message`
        : `no spec.inclusionList pattern matches the message ${JSON.stringify(message)} (patterns are matched against the message, not the reason)`,
    );
  }
  const excluded = compiled.exclusion.find((regex) => regex.test(message));
  if (excluded) reasons.push(`spec.exclusionList pattern ${JSON.stringify(excluded.source)} matches the message: excluded`);
  else if (compiled.exclusion.length > 0) reasons.push('no spec.exclusionList pattern matches the message');
  return reasons;
}

/** The source's position in `spec.eventSources` (compiled sources skip invalid ones). */
function indexOf(compiled: CompiledAlert, source: CompiledSource, fallback: number): number {
  const i = compiled.alert.spec.eventSources.findIndex(
    (s) => s.kind === source.kind && s.name === source.name && (s.namespace || compiled.alert.metadata.namespace) === source.namespace,
  );
  return i < 0 ? fallback : i;
}

function describeSource(source: CompiledSource): string {
  const labels = source.matchLabels?.length ? ` with labels ${source.matchLabels.map(([k, v]) => `${k}=${v}`).join(',')}` : '';
  return `${source.kind}/${source.namespace}/${source.name}${labels}`;
}

function involved(event: FluxEvent): string {
  const { kind, namespace = '', name } = event.involvedObject;
  return `${kind}/${namespace}/${name}`;
}
