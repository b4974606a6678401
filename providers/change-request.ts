/**
 * What the change-request comment adapters (`githubpullrequestcomment`,
 * `gitlabmergerequestcomment`, `giteapullrequestcomment`) share, following Flux's
 * notification-controller v1.9:
 *
 * - they take only events whose object carries `event.toolkit.fluxcd.io/change_request` (the
 *   routing in `src/alerts/notification.ts` drops the others); the adapter sees the key
 *   prefix-stripped, `change_request`, holding the pull/merge request number;
 * - each object has at most one comment per Provider on the change request: its body starts
 *   with a hidden marker, `<!-- <prefix>:<provider uid>/<kind>/<namespace>/<name> -->`;
 * - the adapter lists the first page of 100 comments (oldest first), edits the first one
 *   written by the authenticated account that holds the marker, or else creates one;
 * - the body is the marker, a blank line and a Markdown post: `## Flux Status`, a severity
 *   emoji with `<kind>/<namespace>/<name>`, the message, and the metadata (but the change
 *   request number) as a sorted list.
 */
import type { FluxEvent } from '../src/events/event.js';
import { parseJson } from './commit-status/shared.js';
import { DeliveryError } from './http.js';
import type { HttpClient } from './contract.js';
import type { ProviderConfig } from './types.js';
import { goSortedKeys, goString } from '../src/events/wire.js';

/** The metadata key (prefix-stripped) of the pull/merge request number. */
export const CHANGE_REQUEST_KEY = 'change_request';
/** One page, as Flux lists it: the comment is usually written early in a change request's life. */
export const COMMENTS_PAGE_SIZE = 100;
/** A page of 100 comments, each up to GitHub's 64 KiB limit, would be 6.5 MiB; real pages are far smaller. */
export const MAX_COMMENT_LIST_BYTES = 8 * 1024 * 1024;

export const PR_COMMENT_PREFIX = 'flux-pr-comment-key';
export const MR_COMMENT_PREFIX = 'flux-mr-comment-key';

/** The hidden marker identifying this Provider's comment for the event's object. */
export function commentMarker(prefix: string, config: ProviderConfig, event: FluxEvent): string {
  const { kind, namespace = '', name } = event.involvedObject;
  return `<!-- ${prefix}:${config.uid}/${kind}/${namespace}/${name} -->`;
}

/** The event as Markdown, as Flux formats it for change-request comments. */
export function markdownPost(event: FluxEvent): string {
  const emoji = event.severity === 'error' ? '⚠️' : 'ℹ️';
  const { kind, namespace = '', name } = event.involvedObject;
  const metadata = event.metadata ?? {};
  const lines = goSortedKeys(Object.keys(metadata).filter((key) => key !== CHANGE_REQUEST_KEY))
    .map((key) => `* \`${key}\`: ${metadata[key]}\n`)
    .join('');
  return `## Flux Status\n\n${emoji} ${kind}/${namespace}/${name}\n\n${event.message}\n\nMetadata:\n${lines}`;
}

export function commentBody(prefix: string, config: ProviderConfig, event: FluxEvent): string {
  return `${commentMarker(prefix, config, event)}\n\n${markdownPost(event)}`;
}

/**
 * The change request number from the event, as Go's `strconv.Atoi` reads it. Throws a
 * non-retryable DeliveryError when it is missing or not a number: another attempt cannot fix it.
 */
export function changeRequestNumber(event: FluxEvent): string {
  const value = event.metadata?.[CHANGE_REQUEST_KEY];
  if (value === undefined) throw new DeliveryError(`missing "${CHANGE_REQUEST_KEY}" metadata key`, false);
  if (!/^[+-]?\d{1,18}$/.test(value)) {
    throw new DeliveryError(`invalid "${CHANGE_REQUEST_KEY}" metadata value ${JSON.stringify(value.slice(0, 64))}: not an integer`, false);
  }
  return BigInt(value).toString();
}

/** GETs a JSON answer that may be large (a page of comments). */
export async function getJson(http: HttpClient, url: string, headers: Record<string, string>, what: string): Promise<unknown> {
  const answer = await http.send({ method: 'GET', url, headers, maxAnswerBytes: MAX_COMMENT_LIST_BYTES });
  return parseJson(http, answer.body, what);
}

/** The `login`-like field of the authenticated account (`GET /user`). */
export async function accountName(http: HttpClient, url: string, headers: Record<string, string>, field: string): Promise<string> {
  const user = await getJson(http, url, headers, 'get the authenticated user');
  const value = typeof user === 'object' && user !== null ? (user as Record<string, unknown>)[field] : undefined;
  if (typeof value !== 'string' || value === '') throw new DeliveryError(`the authenticated user has no ${field}`, false);
  return value;
}

/**
 * The id of the first listed comment written by `author` whose body holds `marker`; undefined
 * when there is none. `authorOf` and `bodyOf` read a comment as its API shapes it.
 */
export function findComment(
  listed: unknown,
  author: string,
  marker: string,
  authorOf: (comment: Record<string, unknown>) => unknown,
): string | undefined {
  if (!Array.isArray(listed)) return undefined;
  for (const item of listed as unknown[]) {
    if (typeof item !== 'object' || item === null) continue;
    const comment = item as Record<string, unknown>;
    const { body, id } = comment;
    if (authorOf(comment) !== author || typeof body !== 'string' || !body.includes(marker)) continue;
    if (typeof id === 'number' && Number.isSafeInteger(id)) return String(id);
  }
  return undefined;
}

/** `comment.<a>.<b>` when every step is an object. */
export function field(comment: Record<string, unknown>, a: string, b: string): unknown {
  const inner = comment[a];
  return typeof inner === 'object' && inner !== null ? (inner as Record<string, unknown>)[b] : undefined;
}

/** Creates or edits a comment: `{"body": …}` as Go's JSON writes it (`<!--` as `\u003c!--`). */
export async function putComment(
  http: HttpClient,
  method: 'POST' | 'PATCH' | 'PUT',
  url: string,
  headers: Record<string, string>,
  text: string,
): Promise<void> {
  await http.send({ method, url, headers: { ...headers, 'content-type': 'application/json' }, body: `{"body":${goString(text)}}` });
}
