/**
 * What the commit-status adapters (`github`, `gitlab`, `gitea`, `bitbucket`,
 * `bitbucketserver`, `azuredevops`) share, following Flux's notification-controller:
 *
 * - the revision is the first present of the `commit` (from `event.toolkit.fluxcd.io/commit`),
 *   `originRevision` and `revision` metadata keys (the adapter sees them prefix-stripped);
 * - the SHA is what follows the last `:` of it (`main@sha1:<sha>`, `sha1:<sha>`), else its last
 *   `/` segment (the legacy `<branch>/<sha>`), else the whole value, and must be a 40-character
 *   SHA-1;
 * - the status id is `<kind>/<name>/<first dash segment of the Provider uid>`, lower-cased;
 * - the description is the reason split at camel case, lower-cased (`BuildFailed` → `build failed`);
 * - the repository comes from `spec.address` (`https://host/owner/repo`, `ssh://git@host/…`,
 *   or `git@host:owner/repo`), with `.git` trimmed; ssh addresses are reached over https;
 * - only info and error events have a state;
 * - where a provider lists a commit's statuses newest first, the newest one of the same context
 *   decides whether posting again would be a duplicate.
 */
import { createHash } from 'node:crypto';
import type { FluxEvent } from '../../src/events/event.js';
import type { HttpClient } from '../contract.js';
import { DeliveryError } from '../http.js';
import type { ProviderConfig } from '../types.js';

/** Flux's `meta.ProgressingReason`: most commit-status providers post nothing for it. */
export const PROGRESSING_REASON = 'Progressing';

/** Metadata keys holding the revision, in the order Flux looks them up. */
export const REVISION_KEYS = ['commit', 'originRevision', 'revision'] as const;

/** The raw revision of the event, or undefined when it carries none. */
export function eventRevision(event: FluxEvent): string | undefined {
  const metadata = event.metadata ?? {};
  for (const key of REVISION_KEYS) {
    if (Object.prototype.hasOwnProperty.call(metadata, key)) return metadata[key];
  }
  return undefined;
}

/** Extracts the commit SHA from a revision, or undefined when it is not a 40-character SHA-1. */
export function shaFromRevision(revision: string): string | undefined {
  let hash: string;
  const colon = revision.lastIndexOf(':');
  if (colon >= 0) {
    hash = revision.slice(colon + 1);
  } else {
    const parts = revision.split('/');
    hash = parts[parts.length - 1] ?? '';
  }
  return /^[0-9a-fA-F]{40}$/.test(hash) ? hash : undefined;
}

/**
 * The commit SHA an event refers to. Throws a non-retryable DeliveryError when the event has no
 * revision or the revision holds no SHA-1: another attempt cannot fix the event.
 */
export function commitSha(event: FluxEvent): string {
  const revision = eventRevision(event);
  if (revision === undefined) {
    throw new DeliveryError('missing revision metadata (commit, originRevision or revision)', false);
  }
  const sha = shaFromRevision(revision);
  if (!sha) {
    throw new DeliveryError(`failed to extract a 40-character commit SHA from revision ${JSON.stringify(revision)}`, false);
  }
  return sha;
}

type CharClass = 'lower' | 'upper' | 'digit' | 'other';

function charClass(ch: string): CharClass {
  if (/\p{Ll}/u.test(ch)) return 'lower';
  if (/\p{Lu}/u.test(ch)) return 'upper';
  if (/\p{Nd}/u.test(ch)) return 'digit';
  return 'other';
}

/**
 * Splits a camel-case word into its parts as Flux does: runs of lower-case letters, upper-case
 * letters, digits and anything else, where the last capital of an upper-case run that is
 * followed by lower-case letters starts the next word (`PDFLoader` → `PDF`, `Loader`).
 */
export function splitCamelCase(text: string): string[] {
  const runs: string[][] = [];
  let last: CharClass | undefined;
  for (const ch of text) {
    const cls = charClass(ch);
    const current = runs[runs.length - 1];
    if (cls === last && current) current.push(ch);
    else runs.push([ch]);
    last = cls;
  }
  for (let i = 0; i < runs.length - 1; i++) {
    const run = runs[i]!;
    const next = runs[i + 1]!;
    const head = run[0];
    const nextHead = next[0];
    if (head !== undefined && nextHead !== undefined && charClass(head) === 'upper' && charClass(nextHead) === 'lower') {
      next.unshift(run.pop()!);
    }
  }
  return runs.filter((r) => r.length > 0).map((r) => r.join(''));
}

/** `<kind>/<name>`, lower-cased. */
export function statusName(event: FluxEvent): string {
  return `${event.involvedObject.kind}/${event.involvedObject.name}`.toLowerCase();
}

/** The reason split at camel case and lower-cased: `ReconciliationSucceeded` → `reconciliation succeeded`. */
export function statusDescription(event: FluxEvent): string {
  return splitCamelCase(event.reason ?? '').join(' ').toLowerCase();
}

/** Flux's default commit status id: `<kind>/<name>/<first dash segment of the Provider uid>`, lower-cased. */
export function commitStatusId(config: ProviderConfig, event: FluxEvent): string {
  const uidHead = config.uid.split('-')[0] ?? '';
  return `${event.involvedObject.kind}/${event.involvedObject.name}/${uidHead}`.toLowerCase();
}

/** Hex SHA-1 of a string (Bitbucket keys are limited to 40 characters). */
export function sha1Hex(text: string): string {
  return createHash('sha1').update(text, 'utf8').digest('hex');
}

export interface GitAddress {
  /** `scheme://host[:port]`; ssh addresses become https. */
  host: string;
  /** The repository path without leading `/` and trailing `.git`: `owner/repo`, `group/sub/project`. */
  id: string;
}

/** Parses a git repository address as Flux's commit-status providers do; undefined when it is not one. */
export function parseGitAddress(address: string): GitAddress | undefined {
  const trimmed = address.trim();
  // scp-like syntax: [user@]host:path (no scheme).
  const scp = /^(?:[^@/\s]+@)?([^:/\s]+):(?!\/\/)(.+)$/.exec(trimmed);
  if (scp && !/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed)) {
    const path = scp[2]!.replace(/^\/+/, '').replace(/\.git$/, '');
    return path ? { host: `https://${scp[1]}`, id: path } : undefined;
  }
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    return undefined;
  }
  if (!url.host) return undefined;
  const scheme = url.protocol.replace(/:$/, '');
  const hostScheme = scheme === 'ssh' ? 'https' : scheme;
  const id = decodeURIComponent(url.pathname).replace(/^\/+/, '').replace(/\.git$/, '');
  return { host: `${hostScheme}://${url.host}`, id };
}

/**
 * The check of `spec.address` every commit-status adapter's `prepare` makes: `parse` must
 * accept it as `what` (`a GitHub repository`), of the form `expected`.
 */
export function repositoryProblem(
  config: ProviderConfig,
  parse: (address: string) => unknown,
  what: string,
  expected: string,
): string | undefined {
  if (parse(config.address)) return undefined;
  // The value is not quoted: it may come from a Secret.
  return `spec.address is not ${what} address: expected ${expected}`;
}

/** The Secret's `token`, or its `password` as a fallback, as Flux reads them for GitHub, GitLab and Gitea. */
export function tokenOrPassword(config: ProviderConfig): string | undefined {
  return config.token || config.password || undefined;
}

export interface OwnerRepo {
  /** `scheme://host[:port]`, as `parseGitAddress` gives it. */
  host: string;
  owner: string;
  repo: string;
}

/** An address whose path is exactly `<owner>/<repo>` (GitHub, Gitea, Bitbucket Cloud); undefined otherwise. */
export function parseOwnerRepo(address: string): OwnerRepo | undefined {
  const parsed = parseGitAddress(address);
  if (!parsed) return undefined;
  const parts = parsed.id.split('/');
  if (parts.length !== 2 || !parts[0] || !parts[1]) return undefined;
  return { host: parsed.host, owner: parts[0], repo: parts[1] };
}

/** GitHub's API root for a repository host, no trailing slash: api.github.com, or `<host>/api/v3` (Enterprise). */
export function githubApiRoot(host: string): string {
  return new URL(host).host === 'github.com' ? 'https://api.github.com' : `${host}/api/v3`;
}

/** An `<owner>/<repo>` repository and the API root that serves it (GitHub, Gitea, Bitbucket Cloud). */
export interface ApiRepository {
  /** No trailing slash. */
  apiBase: string;
  owner: string;
  repo: string;
}

/** `parseOwnerRepo`, with the API root `apiBase` derives from the host; undefined when the address names no `owner/repo`. */
export function ownerRepoServedBy(address: string, apiBase: (host: string) => string): ApiRepository | undefined {
  const parsed = parseOwnerRepo(address);
  return parsed && { apiBase: apiBase(parsed.host), owner: parsed.owner, repo: parsed.repo };
}

/**
 * The provider's state for an event's severity: only info and error events have one; any other
 * severity fails without retry, naming `what` (`a GitHub commit state`).
 */
export function commitState(severity: string, states: { info: string; error: string }, what: string): string {
  if (severity === 'info') return states.info;
  if (severity === 'error') return states.error;
  throw new DeliveryError(`cannot convert severity ${JSON.stringify(severity)} to ${what}`, false);
}

/** A page of a commit's statuses (up to 100 objects of about 1.5 KiB on GitHub) fits many times over. */
export const MAX_STATUS_LIST_BYTES = 1024 * 1024;

/**
 * Flux's duplicate check where a commit's statuses are listed newest first (GitHub, Gitea,
 * Azure DevOps): the first listed status that `ofContext` accepts decides, and it is a duplicate
 * when it has the wanted state and description. Anything but an array of objects holds none.
 */
export function newestOfContextMatches<S extends { state?: unknown; description?: unknown }>(
  statuses: unknown,
  ofContext: (status: S) => boolean,
  wanted: { state: string; description: string },
): boolean {
  if (!Array.isArray(statuses)) return false;
  const newest = (statuses as unknown[]).find((s): s is S => typeof s === 'object' && s !== null && ofContext(s as S));
  return newest !== undefined && newest.state === wanted.state && newest.description === wanted.description;
}

/** Parses a provider's JSON answer; a body that is not JSON is reported as a non-retryable failure. */
export function parseJson(http: HttpClient, body: string, what: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    const snippet = body.length > 200 ? `${body.slice(0, 200)}…` : body;
    throw new DeliveryError(http.mask(`${what}: the answer is not JSON: ${snippet}`), false);
  }
}

/** Whether an error is the shared HTTP layer reporting a given status. */
export function isHttpStatus(err: unknown, status: number): boolean {
  return err instanceof DeliveryError && err.status === status;
}

/** Percent-encodes one URL path segment. */
export function seg(value: string): string {
  return encodeURIComponent(value);
}
