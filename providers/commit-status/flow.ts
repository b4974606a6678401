/**
 * The one commit-status flow every git provider follows; each provider is a declaration of
 * what differs (`./github.ts`, `./gitlab.ts`, …), turned into an adapter by `commitStatusAdapter`.
 *
 * prepare (once per Provider version): compile `spec.commitStatusExpr`, parse the repository
 * from `spec.address`, build the API base URL and the request headers (credentials included);
 * a configuration with several problems reports all of them, separated by `; `.
 *
 * send (per event): skip `Progressing` unless the provider has a state for it; take the SHA from
 * the revision; map the severity to the provider's state; derive the status id (from
 * `spec.commitStatusExpr` when set) and description;
 * look the status up (a list of the commit's statuses, or the one status with our key) and post
 * nothing when it is already there; else POST the provider's body.
 */
import type { FluxEvent } from '../../src/events/event.js';
import { DeliveryError, MAX_ANSWER_BYTES } from '../http.js';
import type { HttpClient } from '../contract.js';
import { compileStatusIdExpression, type StatusIdExpression } from './expression.js';
import { problem, prepared, type ProviderAdapter, type ProviderConfig } from '../types.js';
import {
  MAX_STATUS_LIST_BYTES,
  PROGRESSING_REASON,
  commitSha,
  commitState,
  commitStatusId,
  isHttpStatus,
  parseJson,
  repositoryProblem,
  statusDescription,
  statusName,
} from './shared.js';

/** One status about to be posted: what the flow derived from the event. */
export interface CommitStatus {
  event: FluxEvent;
  sha: string;
  /** The provider's state (`success`, `FAILED`, …). */
  state: string;
  /** The reason split at camel case, lower-cased. */
  description: string;
  /**
   * The context, name or key source: `spec.commitStatusExpr`'s result as it is, else
   * `<kind>/<name>/<provider uid prefix>`, lower-cased.
   */
  id: string;
  /** `<kind>/<name>`, lower-cased. */
  name: string;
}

/** What a commit-status adapter's `prepare` keeps: computed once, used by every send. */
export interface PreparedCommitStatus<R> {
  repository: R;
  /** The API URL every call of this repository starts with, no trailing slash. */
  base: string;
  headers: Record<string, string>;
  /** `spec.commitStatusExpr`, compiled; absent when the Provider uses the default status id. */
  statusId?: StatusIdExpression;
}

/**
 * How the flow asks whether the status is already there.
 * - `list`: the commit's statuses (read up to `MAX_STATUS_LIST_BYTES`); a non-JSON answer fails.
 * - `single`: the one status with our key; 404 means "not there"; a non-JSON answer fails.
 * - `single-lenient`: as `single`, but any HTTP answer or body that is not JSON means "not there"
 *   (Bitbucket Server, as Flux treats it).
 */
export type LookupKind = 'list' | 'single' | 'single-lenient';

export interface CommitStatusDeclaration<R> {
  type: string;
  repository: {
    parse(address: string): R | undefined;
    /** `a GitHub repository`, for the problem text. */
    what: string;
    /** `https://<host>/<owner>/<repo>`, for the problem text. */
    expected: string;
  };
  /** The API base URL for a repository, no trailing slash. */
  base(repository: R): string;
  /** The request headers (credentials included), or the problem naming the missing Secret key. */
  headers(config: ProviderConfig): Record<string, string> | string;
  /**
   * A Bearer token obtained per send, for credentials that expire (a GitHub App's installation
   * token, cached by its module); when declared, `headers` leaves `authorization` out.
   */
  bearer?(config: ProviderConfig, http: HttpClient): Promise<string>;
  /** The provider's states for info and error events; `progressing` when it posts `Progressing` too. */
  states: { info: string; error: string; progressing?: string };
  /** `a GitHub commit state`, for the error on any other severity. */
  stateWhat: string;
  lookup: {
    kind: LookupKind;
    url(base: string, status: CommitStatus): string;
    /** Whether the looked-up answer (parsed JSON; null when lenient and unparsable) already holds the status. */
    duplicate(answer: unknown, status: CommitStatus): boolean;
  };
  post: {
    url(base: string, status: CommitStatus): string;
    body(status: CommitStatus, config: ProviderConfig): unknown;
  };
}

export function commitStatusAdapter<R>(declaration: CommitStatusDeclaration<R>): ProviderAdapter<PreparedCommitStatus<R>> {
  const { repository: repo, states } = declaration;
  return {
    type: declaration.type,
    commitStatus: true,
    prepare(config) {
      const problems: string[] = [];
      const compiled = config.spec.commitStatusExpr ? compileStatusIdExpression(config.spec.commitStatusExpr) : undefined;
      if (compiled && !compiled.ok) problems.push(compiled.problem);
      const addressProblem = repositoryProblem(config, repo.parse, repo.what, repo.expected);
      if (addressProblem) problems.push(addressProblem);
      const headers = declaration.headers(config);
      if (typeof headers === 'string') problems.push(headers);
      if (typeof headers === 'string' || problems.length > 0) return problem(problems.join('; '));
      const repository = repo.parse(config.address)!;
      const statusId = compiled?.ok ? compiled.expression : undefined;
      return prepared({ repository, base: declaration.base(repository), headers, ...(statusId ? { statusId } : {}) });
    },
    async send(event, { config, prepared: { base, headers: prepared, statusId }, http, alert }) {
      const headers = declaration.bearer ? { ...prepared, authorization: `Bearer ${await declaration.bearer(config, http)}` } : prepared;
      const progressing = event.reason === PROGRESSING_REASON;
      if (progressing && states.progressing === undefined) return;
      const sha = commitSha(event);
      const status: CommitStatus = {
        event,
        sha,
        state: progressing ? states.progressing! : commitState(event.severity, states, declaration.stateWhat),
        description: statusDescription(event),
        id: statusId ? statusId(event, config, alert) : commitStatusId(config, event),
        name: statusName(event),
      };
      const answer = await lookUp(http, declaration.lookup.kind, declaration.lookup.url(base, status), headers);
      if (declaration.lookup.duplicate(answer, status)) return;
      await http.send({ method: 'POST', url: declaration.post.url(base, status), headers, json: declaration.post.body(status, config) });
    },
  };
}

async function lookUp(http: HttpClient, kind: LookupKind, url: string, headers: Record<string, string>): Promise<unknown> {
  const maxAnswerBytes = kind === 'list' ? MAX_STATUS_LIST_BYTES : MAX_ANSWER_BYTES;
  let body: string;
  try {
    body = (await http.send({ method: 'GET', url, headers, maxAnswerBytes })).body;
  } catch (err) {
    if (kind === 'single' && isHttpStatus(err, 404)) return null;
    // Like Flux, any HTTP answer to Bitbucket Server's look-up means "not known yet"; only a
    // failure to reach the server at all (no status) stops here.
    if (kind === 'single-lenient' && err instanceof DeliveryError && err.status !== undefined) return null;
    throw err;
  }
  if (kind !== 'single-lenient') return parseJson(http, body, kind === 'list' ? 'list commit statuses' : 'get commit status');
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return null;
  }
}
