/**
 * One run of an ImageUpdateAutomation, as Flux's image-automation-controller reconciles it:
 * resolve the GitRepository and its Secret, clone the checkout ref, apply the setters, commit
 * with the rendered message, push (re-applying on top of another writer's commit when the
 * push is rejected), and describe the outcome — Ready condition, status fields, explain
 * report and the events to emit in Herald's wire type.
 *
 * Pure of Herald's wiring: inputs are plain objects and a Secret look-up, and the only
 * shared state is the per-repository-branch lock passed in.
 */
import type { FluxEvent } from '../../events/event.js';
import {
  GitError,
  GitSession,
  KeyedLock,
  credentialsFromSecret,
  repositoryBranchKey,
  resolveCheckoutRef,
  type SemverSelector,
} from './git.js';
import { selectorMatches } from './manifests.js';
import { isEmptyResult, templateData, type UpdateResult } from './result.js';
import { updateTree, type ExplainReport } from './setters.js';
import { prepareSigning } from './signing.js';
import { TemplateError, compileTemplate, runTemplate } from './template/index.js';
import {
  AUTOMATION_CONTROLLER,
  DEFAULT_MESSAGE_TEMPLATE,
  IMAGE_API_VERSION,
  type GitRepository,
  type ImageUpdateAutomation,
  type ImageUpdateAutomationStatus,
  type ObservedPolicyRef,
  type PolicyInput,
} from './types.js';
import { errorMessage } from '../../common/errors.js';

/** Flux's Ready reasons for an ImageUpdateAutomation. */
export const AutomationReasons = {
  Succeeded: 'Succeeded',
  AccessDenied: 'AccessDenied',
  SourceManagerFailed: 'SourceManagerFailed',
  GitOperationFailed: 'GitOperationFailed',
  UpdateFailed: 'UpdateFailed',
  RemovedTemplateField: 'RemovedTemplateField',
} as const;

export const UP_TO_DATE = 'repository up-to-date';
export const NO_CHANGE_SINCE_LAST = 'no change since last reconciliation';

/** Pushes tried in one run when other writers keep moving the branch. */
export const DEFAULT_MAX_PUSH_ATTEMPTS = 4;

export type SecretLookup = (namespace: string, name: string) => Readonly<Record<string, string>> | undefined;

export interface AutomationOptions {
  /** Shared by every automation in the process: pushes to one repository branch never race. */
  lock: KeyedLock;
  now?: () => Date;
  tmpRoot?: string;
  maxPushAttempts?: number;
  selectSemver?: SemverSelector;
  noCrossNamespaceRefs?: boolean;
  /** Whether Ready was True before this run (decides Flux's event, see `eventsFor`). */
  previouslyReady?: boolean;
}

export type RunResult =
  | { kind: 'pushed'; commit: string; branch: string; refspecs: string[]; message: string; attempts: number }
  | { kind: 'unchanged'; skipped: boolean }
  | { kind: 'suspended' }
  | { kind: 'failed'; reason: string; message: string; stalled: boolean };

export interface ReadyState {
  status: 'True' | 'False';
  reason: string;
  message: string;
}

export interface AutomationOutcome {
  result: RunResult;
  /** Absent when suspended (Flux leaves the status alone). */
  ready?: ReadyState;
  status: ImageUpdateAutomationStatus;
  explain: ExplainReport;
  events: FluxEvent[];
}

class RunFailure extends Error {
  constructor(readonly reason: string, message: string, readonly stalled = false) {
    super(message);
  }
}

function gitFailure(prefix: string, e: unknown, session?: GitSession): RunFailure {
  const text = errorMessage(e);
  return new RunFailure(AutomationReasons.GitOperationFailed, `${prefix}: ${session ? session.mask(text) : text}`);
}

/** The policies a run considers: the automation's namespace, the selector, a latest image. */
export function observedPolicies(automation: ImageUpdateAutomation, policies: readonly PolicyInput[]): Record<string, ObservedPolicyRef> {
  const out: Record<string, ObservedPolicyRef> = {};
  for (const p of policies) {
    if (p.namespace !== automation.metadata.namespace || !p.latestRef) continue;
    if (!selectorMatches(automation.spec.policySelector, p.labels)) continue;
    out[p.name] = { ...p.latestRef };
  }
  return out;
}

function samePolicies(a: Record<string, ObservedPolicyRef> | undefined, b: Record<string, ObservedPolicyRef>): boolean {
  if (!a) return false;
  const keys = Object.keys(b);
  if (Object.keys(a).length !== keys.length) return false;
  return keys.every((k) => a[k]?.name === b[k]?.name && a[k]?.tag === b[k]?.tag && (a[k]?.digest ?? '') === (b[k]?.digest ?? ''));
}

/** Flux's push summary, the message of the event that announces a push. */
export function pushSummary(commit: string, branch: string, refspecs: readonly string[], message: string): string {
  let out = `pushed commit '${commit.slice(0, 7)}' to branch '${branch}'`;
  if (refspecs.length > 0) out += ` and refspecs ${refspecs.map((r) => `'${r}'`).join(', ')}`;
  if (message) out += `\n${message}`;
  return out;
}

/** Renders the commit message, mapping template errors to Flux's reasons and messages. */
export function renderCommitMessage(automation: ImageUpdateAutomation, result: UpdateResult): string {
  const spec = automation.spec.git.commit;
  const source = spec.messageTemplate || DEFAULT_MESSAGE_TEMPLATE;
  let tmpl;
  try {
    tmpl = compileTemplate(source);
  } catch (e) {
    throw new RunFailure(AutomationReasons.GitOperationFailed, `unable to create commit message template from spec: ${(e as Error).message}`);
  }
  try {
    return runTemplate(tmpl, templateData(automation.metadata, result, spec.messageTemplateValues ?? {}));
  } catch (e) {
    const message = e instanceof TemplateError ? e.message : String(e);
    if (message.includes("can't evaluate field Updated in type source.TemplateData")) {
      throw new RunFailure(AutomationReasons.RemovedTemplateField, "template uses removed '.Updated' field. Please use '.Changed' instead. See: https://fluxcd.io/flux/components/image/imageupdateautomations/#message-template", true);
    }
    if (message.includes("can't evaluate field ImageResult in type update.Result")) {
      throw new RunFailure(AutomationReasons.RemovedTemplateField, "template uses removed '.Changed.ImageResult' field. Please use '.Changed.FileChanges' or '.Changed.Objects' instead. See: https://fluxcd.io/flux/components/image/imageupdateautomations/#message-template", true);
    }
    throw new RunFailure(AutomationReasons.GitOperationFailed, `failed to run template from spec: ${message}`);
  }
}

interface SourceConfig {
  url: string;
  checkoutRef: GitRepository['spec']['ref'];
  checkoutBranch: string;
  pushBranch: string;
  switchBranch: boolean;
  timeoutMs: number;
  secret?: Readonly<Record<string, string>>;
}

function sourceConfig(automation: ImageUpdateAutomation, repo: GitRepository | undefined, secrets: SecretLookup, opts: AutomationOptions): SourceConfig {
  const ns = automation.metadata.namespace;
  const ref = automation.spec.sourceRef;
  const repoNs = ref.namespace || ns;
  if (opts.noCrossNamespaceRefs && repoNs !== ns) {
    throw new RunFailure(AutomationReasons.AccessDenied, `can't access 'GitRepository/${repoNs}/${ref.name}', cross-namespace references have been blocked`, true);
  }
  if (!repo) {
    throw new RunFailure(AutomationReasons.SourceManagerFailed, `failed configuring source manager: spec.sourceRef: GitRepository ${repoNs}/${ref.name} not found`);
  }
  const checkoutRef = automation.spec.git.checkout?.ref ?? repo.spec.ref;
  const push = automation.spec.git.push;
  const pushBranch = push?.branch || checkoutRef?.branch;
  if (!pushBranch) {
    throw new RunFailure(AutomationReasons.SourceManagerFailed, 'failed configuring source manager: push spec not provided, and cannot be inferred from .spec.git.checkout.ref or GitRepository .spec.ref');
  }
  let secret: Readonly<Record<string, string>> | undefined;
  if (repo.spec.secretRef) {
    secret = secrets(repo.metadata.namespace, repo.spec.secretRef.name);
    if (!secret) {
      throw new RunFailure(AutomationReasons.SourceManagerFailed, `failed configuring source manager: GitRepository ${repo.metadata.namespace}/${repo.metadata.name} spec.secretRef: Secret ${repo.metadata.namespace}/${repo.spec.secretRef.name} not found`);
    }
  }
  const checkoutBranch = checkoutRef?.branch || (checkoutRef && Object.keys(checkoutRef).length > 0 ? '' : 'master');
  return {
    url: repo.spec.url,
    checkoutRef,
    checkoutBranch,
    pushBranch,
    switchBranch: Boolean(push?.branch) && push?.branch !== checkoutRef?.branch,
    timeoutMs: repo.spec.timeoutMs,
    secret,
  };
}

export async function runAutomation(
  automation: ImageUpdateAutomation,
  gitRepository: GitRepository | undefined,
  secrets: SecretLookup,
  policies: readonly PolicyInput[],
  opts: AutomationOptions,
): Promise<AutomationOutcome> {
  const now = opts.now ?? (() => new Date());
  const previous = automation.status ?? {};
  const explain: ExplainReport = { markers: [], skippedFiles: [], truncated: false };
  if (automation.spec.suspend) return { result: { kind: 'suspended' }, status: previous, explain, events: [] };

  const status: ImageUpdateAutomationStatus = { ...previous, lastAutomationRunTime: now().toISOString() };
  const observed = observedPolicies(automation, policies);
  let result: RunResult;
  try {
    const source = sourceConfig(automation, gitRepository, secrets, opts);
    result = await opts.lock.run(repositoryBranchKey(source.url, source.pushBranch), () =>
      syncRepository(automation, source, secrets, policies, observed, status, explain, opts),
    );
    status.observedPolicies = observed;
  } catch (e) {
    const failure = e instanceof RunFailure ? e : new RunFailure(AutomationReasons.GitOperationFailed, errorMessage(e));
    result = { kind: 'failed', reason: failure.reason, message: failure.message, stalled: failure.stalled };
  }
  const ready: ReadyState =
    result.kind === 'failed' ? { status: 'False', reason: result.reason, message: result.message } : { status: 'True', reason: AutomationReasons.Succeeded, message: UP_TO_DATE };
  return { result, ready, status, explain, events: eventsFor(automation, result, opts.previouslyReady ?? false, now()) };
}

async function syncRepository(
  automation: ImageUpdateAutomation,
  source: SourceConfig,
  secrets: SecretLookup,
  policies: readonly PolicyInput[],
  observed: Record<string, ObservedPolicyRef>,
  status: ImageUpdateAutomationStatus,
  explain: ExplainReport,
  opts: AutomationOptions,
): Promise<RunResult> {
  const spec = automation.spec;
  // Fail on a template that does not parse before any network work.
  if (spec.git.commit.messageTemplate) {
    try {
      compileTemplate(spec.git.commit.messageTemplate);
    } catch (e) {
      throw new RunFailure(AutomationReasons.GitOperationFailed, `unable to create commit message template from spec: ${(e as Error).message}`);
    }
  }
  const session = await GitSession.open({ url: source.url, credentials: credentialsFromSecret(source.url, source.secret), timeoutMs: source.timeoutMs, tmpRoot: opts.tmpRoot });
  try {
    const syncNeeded = !samePolicies(status.observedPolicies, observed) || source.switchBranch || Boolean(spec.git.push?.refspec);
    if (!syncNeeded && status.observedSourceRevision && source.checkoutBranch) {
      // Nothing of ours changed: if the branch has not moved either, there is nothing to do.
      const heads = await session.lsRemote(`refs/heads/${source.checkoutBranch}`).catch((e: unknown) => {
        throw gitFailure('failed to checkout source', e, session);
      });
      const head = heads.get(`refs/heads/${source.checkoutBranch}`);
      if (head && `${source.checkoutBranch}@sha1:${head}` === status.observedSourceRevision) return { kind: 'unchanged', skipped: true };
    }
    let checkoutCommit: string;
    try {
      const ref = await resolveCheckoutRef(session, source.checkoutRef, opts.selectSemver);
      checkoutCommit = await session.checkout(ref, source.pushBranch);
    } catch (e) {
      throw gitFailure(`failed to checkout source: unable to clone '${session.mask(source.url)}'`, e, session);
    }
    const signing = spec.git.commit.signingKey ? await prepareSigning(session, spec.git.commit.signingKey, secrets(automation.metadata.namespace, spec.git.commit.signingKey.secretRef.name)) : undefined;
    const ctx = { namespace: automation.metadata.namespace, policies, policySelector: spec.policySelector };
    const maxAttempts = opts.maxPushAttempts ?? DEFAULT_MAX_PUSH_ATTEMPTS;
    for (let attempt = 1; ; attempt++) {
      let update;
      try {
        update = await updateTree(session.repoDir, spec.update.path, ctx);
      } catch (e) {
        throw new RunFailure(AutomationReasons.UpdateFailed, `failed to apply policies: ${session.mask(errorMessage(e))}`);
      }
      Object.assign(explain, update.explain);
      const sourceRevision = `${source.checkoutBranch || source.pushBranch}@sha1:${checkoutCommit}`;
      if (isEmptyResult(update.result)) {
        status.observedSourceRevision = sourceRevision;
        return { kind: 'unchanged', skipped: false };
      }
      const message = renderCommitMessage(automation, update.result);
      let commit: string | undefined;
      try {
        commit = await session.commitAll({ authorName: spec.git.commit.author.name, authorEmail: spec.git.commit.author.email, message, signing });
      } catch (e) {
        throw gitFailure('failed to update source: failed to commit changes', e, session);
      }
      if (!commit) {
        status.observedSourceRevision = sourceRevision;
        return { kind: 'unchanged', skipped: false };
      }
      try {
        await session.push(`refs/heads/${source.pushBranch}:refs/heads/${source.pushBranch}`, spec.git.push?.options, source.switchBranch);
      } catch (e) {
        if (e instanceof GitError && e.kind === 'rejected' && !source.switchBranch && attempt < maxAttempts) {
          // Another writer moved the branch: start again from its tip and re-apply the policies.
          try {
            checkoutCommit = await session.resetToRemote(source.pushBranch, source.pushBranch);
          } catch (fetchError) {
            throw gitFailure('failed to update source: failed to refresh the branch after a rejected push', fetchError, session);
          }
          continue;
        }
        throw gitFailure(`failed to update source: failed to push to branch '${source.pushBranch}'`, e, session);
      }
      const refspecs: string[] = [];
      const refspec = spec.git.push?.refspec;
      if (refspec) {
        try {
          await session.push(refspec, spec.git.push?.options);
        } catch (e) {
          throw gitFailure(`failed to update source: failed to push to refspec '${refspec}'`, e, session);
        }
        refspecs.push(refspec);
      }
      status.lastPushCommit = commit;
      status.lastPushTime = (opts.now ?? (() => new Date()))().toISOString();
      status.observedSourceRevision = source.switchBranch ? sourceRevision : `${source.pushBranch}@sha1:${commit}`;
      return { kind: 'pushed', commit, branch: source.pushBranch, refspecs, message, attempts: attempt };
    }
  } finally {
    await session.close();
  }
}

/**
 * Flux's event rule for an ImageUpdateAutomation: a push → Normal with the push summary; a
 * recovery → Normal `repository up-to-date`; a failure → Warning with the Ready message;
 * anything else is a Trace event, which Flux never posts (so none is returned).
 */
export function eventsFor(automation: ImageUpdateAutomation, result: RunResult, previouslyReady: boolean, now: Date): FluxEvent[] {
  let severity: FluxEvent['severity'];
  let reason: string;
  let message: string;
  if (result.kind === 'failed') {
    severity = 'error';
    reason = result.reason;
    message = result.message;
  } else if (result.kind === 'pushed') {
    severity = 'info';
    reason = AutomationReasons.Succeeded;
    message = pushSummary(result.commit, result.branch, result.refspecs, result.message);
  } else if (result.kind === 'unchanged' && !previouslyReady) {
    severity = 'info';
    reason = AutomationReasons.Succeeded;
    message = UP_TO_DATE;
  } else return [];
  return [
    {
      involvedObject: {
        kind: 'ImageUpdateAutomation',
        namespace: automation.metadata.namespace,
        name: automation.metadata.name,
        apiVersion: IMAGE_API_VERSION,
        ...(automation.metadata.uid ? { uid: automation.metadata.uid } : {}),
        ...(automation.metadata.resourceVersion ? { resourceVersion: automation.metadata.resourceVersion } : {}),
      },
      severity,
      timestamp: now.toISOString(),
      message,
      reason,
      reportingController: AUTOMATION_CONTROLLER,
    },
  ];
}
