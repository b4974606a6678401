/**
 * What one provider receives for one (event, Alert): the metadata Flux sends, and whether the
 * provider takes the event at all (commit-status routing).
 */
import { apiGroup, controllerMetadata, EVENT_METADATA_PREFIX, metadataMap, type FluxEvent } from '../events/event.js';
import type { Alert } from '../api/types.js';

export interface Notification {
  /** The event with its metadata keys un-prefixed and merged; `<group>/token` is gone. */
  event: FluxEvent;
  /** Keys that more than one source set (the later one won), sorted, for a warning log line. */
  conflicts: string[];
  /**
   * For each conflicting key, the sources that set it, lowest precedence first, joined with
   * `, ` and named as Flux names them: the annotations of the Warning `MetadataAppendFailed`
   * Event Flux records on the Alert.
   */
  conflictSources: Record<string, string>;
}

/** Flux's names for the metadata sources, in precedence order. */
export const METADATA_SOURCES = {
  annotations: 'involved object annotations',
  eventMetadata: 'Alert object .spec.eventMetadata',
  summary: 'Alert object .spec.summary',
  controller: 'involved object controller metadata',
} as const;

/** The message of Flux's `MetadataAppendFailed` Event. */
export const METADATA_CONFLICT_MESSAGE =
  'metadata key conflicts detected (please refer to the Alert API docs and Flux RFC 0008 for more information)';

/**
 * Merges the metadata sources by Flux's precedence (RFC 0008; lowest first, a later source
 * overwrites): `event.toolkit.fluxcd.io/<key>` from object annotations, the Alert's
 * `spec.eventMetadata`, the Alert's deprecated `spec.summary` as `summary`, and last the
 * controller's own `<group>/<key>`, so a controller-set `revision` cannot be spoofed by an
 * annotation. `event` must already have gone through `cleanupMetadata`.
 */
export function notificationFor(event: FluxEvent, alert: Alert): Notification {
  const group = apiGroup(event.involvedObject);
  const groupPrefix = group ? `${group}/` : undefined;
  // The token only serves duplicate suppression; Flux removes it before dispatch.
  const tokenKey = groupPrefix ? `${groupPrefix}token` : undefined;
  const incoming = Object.entries(event.metadata ?? {}).filter(([key]) => key !== tokenKey);

  const metadata = metadataMap();
  const setBy = new Map<string, string[]>();
  const put = (key: string, value: string, source: string): void => {
    metadata[key] = value;
    const sources = setBy.get(key);
    if (sources) sources.push(source);
    else setBy.set(key, [source]);
  };

  for (const [key, value] of incoming) {
    if (key.startsWith(EVENT_METADATA_PREFIX)) put(key.slice(EVENT_METADATA_PREFIX.length), value, METADATA_SOURCES.annotations);
  }
  for (const [key, value] of Object.entries(alert.spec.eventMetadata ?? {})) put(key, value, METADATA_SOURCES.eventMetadata);
  if (alert.spec.summary) put('summary', alert.spec.summary, METADATA_SOURCES.summary);
  if (groupPrefix) {
    for (const [key, value] of incoming) {
      if (key.startsWith(groupPrefix)) put(key.slice(groupPrefix.length), value, METADATA_SOURCES.controller);
    }
  }

  const conflicts: string[] = [];
  for (const [key, sources] of setBy) if (sources.length > 1) conflicts.push(key);
  conflicts.sort();
  const conflictSources = metadataMap();
  for (const key of conflicts) conflictSources[key] = (setBy.get(key) ?? []).join(', ');
  // Like Flux's JSON (`omitempty`), no metadata means no `metadata` field.
  const notification: FluxEvent = Object.keys(metadata).length > 0 ? { ...event, metadata } : withoutMetadata(event);
  return { event: notification, conflicts, conflictSources };
}

function withoutMetadata(event: FluxEvent): FluxEvent {
  const { metadata: _none, ...rest } = event;
  return rest;
}

const COMMIT_STATUS_KEY = 'commit_status';
const GENERIC_WEBHOOK_TYPES = new Set(['generic', 'generic-hmac']);
const COMMIT_STATUS_UPDATE = 'update';
const COMMIT_KEY = `${EVENT_METADATA_PREFIX}commit`;
const CHANGE_REQUEST_KEY = `${EVENT_METADATA_PREFIX}change_request`;
const CHANGE_REQUEST_TYPES = new Set(['githubpullrequestcomment', 'gitlabmergerequestcomment', 'giteapullrequestcomment']);

/**
 * Commit-status and change-request routing, applied per provider before anything is sent:
 * - an event marked `<group>/commit_status: update` (a controller reporting "this revision is
 *   now applied") is meant for commit statuses: only commit-status providers and the generic
 *   webhooks (`generic`, `generic-hmac`, which forward it as it is) take it;
 * - a commit-status provider needs a commit to annotate: it takes the update marker, an event
 *   with a non-empty `event.toolkit.fluxcd.io/commit`, or an error (controllers do not mark
 *   failures as status updates, yet a failure must reach the commit);
 * - a change-request comment provider (`githubpullrequestcomment`, `gitlabmergerequestcomment`,
 *   `giteapullrequestcomment`) takes only events with a non-empty
 *   `event.toolkit.fluxcd.io/change_request` (the pull/merge request to comment on).
 *
 * The same rules as Flux's notification-controller v1.9 (its event server's notification
 * parameters and its generic/commit-status provider type lists).
 *
 * `event` is the cleaned event with its metadata keys still prefixed.
 */
export function providerAcceptsEvent(
  event: FluxEvent,
  opts: { commitStatusProvider: boolean; providerType: string },
): boolean {
  const isStatusUpdate = controllerMetadata(event, COMMIT_STATUS_KEY) === COMMIT_STATUS_UPDATE;
  if (!opts.commitStatusProvider) {
    if (isStatusUpdate && !GENERIC_WEBHOOK_TYPES.has(opts.providerType)) return false;
    return !CHANGE_REQUEST_TYPES.has(opts.providerType) || (event.metadata?.[CHANGE_REQUEST_KEY] ?? '') !== '';
  }
  const hasCommit = (event.metadata?.[COMMIT_KEY] ?? '') !== '';
  return isStatusUpdate || hasCommit || event.severity === 'error';
}

/** The provider type a notification is counted under when Herald has no adapter for the Provider's `spec.type`. */
export const UNSUPPORTED_TYPE = 'unsupported';

/** What routing needs to know of an Alert's Provider (the resource store's resolved Provider fits). */
export interface RoutedProvider {
  suspended: boolean;
  adapter?: { type: string; commitStatus?: boolean };
}

/**
 * What becomes of an Alert's notification at its Provider, before anything is sent: `missing`
 * (no such Provider: nothing is sent, as in Flux), `suspended` (skipped), `dropped` (the
 * provider type does not take this event, see `providerAcceptsEvent`), or `deliver`. The
 * dispatcher acts on it and `explain` reports it, so both follow one set of rules.
 */
export type ProviderRoute =
  | { action: 'missing' }
  | { action: 'suspended' | 'dropped' | 'deliver'; providerType: string };

export function routeToProvider(event: FluxEvent, provider: RoutedProvider | undefined): ProviderRoute {
  if (!provider) return { action: 'missing' };
  // A type Herald has no adapter for is labelled `unsupported`: metric labels stay bounded
  // whatever a manifest says.
  const providerType = provider.adapter?.type ?? UNSUPPORTED_TYPE;
  if (provider.suspended) return { action: 'suspended', providerType };
  const accepted = providerAcceptsEvent(event, { providerType, commitStatusProvider: provider.adapter?.commitStatus === true });
  return { action: accepted ? 'deliver' : 'dropped', providerType };
}
