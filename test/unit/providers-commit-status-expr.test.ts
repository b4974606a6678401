/**
 * `spec.commitStatusExpr`: the cases of Flux's own tests (internal/server event_handlers_test.go
 * TestCreateCommitStatus) and docs (providers.md "Custom Commit Status Messages"), through the
 * github and gitlab adapters, plus Herald's compile-time refusal and bounds.
 */
import { describe, expect, it } from 'vitest';
import type { FluxEvent } from '../../src/events/event.js';
import { github } from '../../providers/commit-status/github.js';
import { gitlab } from '../../providers/commit-status/gitlab.js';
import { compileStatusIdExpression, MAX_EXPRESSION_LENGTH } from '../../providers/commit-status/expression.js';
import type { AlertIdentity, ProviderConfig } from '../../providers/types.js';
import { answerListThenPost, deliver, failureOf, problemOf, REVISION, useSink } from '../support/adapter-harness.js';
import { testProviderConfig } from '../support/provider-config.js';

const TOKEN = 'ghp_exprS3cretT0ken';
const UID = '0c9c2e41-d2f9-4f9b-9c41-bebc1984d67a';
const ALERT: AlertIdentity = { namespace: 'flux-system', name: 'test-alert', uid: '' };

const sink = useSink();

function config(type: 'github' | 'gitlab', commitStatusExpr: string, overrides: Partial<ProviderConfig> = {}): ProviderConfig {
  return testProviderConfig({
    type,
    uid: UID,
    address: `${sink().url}/org/repo`,
    token: TOKEN,
    spec: { type, commitStatusExpr },
    ...overrides,
  });
}

/** Flux's test event: Kustomization gitops-system, with `environment: production` in its metadata. */
function event(metadata: Record<string, string> = { environment: 'production' }): FluxEvent {
  return {
    involvedObject: { kind: 'Kustomization', namespace: 'flux-system', name: 'gitops-system' },
    severity: 'info',
    message: 'applied',
    reason: 'ApplySucceeded',
    metadata: { revision: REVISION, ...metadata },
  };
}

async function githubContext(expression: string, ev = event(), alert: AlertIdentity | undefined = ALERT): Promise<string> {
  answerListThenPost([]);
  const requests = await deliver(github, config('github', expression), ev, alert);
  return (JSON.parse(requests[1]!.body) as { context: string }).context;
}

describe('spec.commitStatusExpr: Flux TestCreateCommitStatus cases', () => {
  it('event, and the whole provider uid (not lower-cased: the result is used as it is)', async () => {
    const expr = "event.involvedObject.kind + '/' + event.involvedObject.name + '/' + event.metadata.environment + '/' + provider.metadata.uid";
    expect(await githubContext(expr)).toBe(`Kustomization/gitops-system/production/${UID}`);
  });

  it("the first segment of the provider uid, with the list extension's first()", async () => {
    const expr =
      "event.involvedObject.kind + '/' + event.involvedObject.name + '/' + event.metadata.environment + '/' + provider.metadata.uid.split('-').first().value()";
    expect(await githubContext(expr)).toBe('Kustomization/gitops-system/production/0c9c2e41');
  });

  it('event, alert and provider together', async () => {
    const expr =
      "event.involvedObject.kind + '/' + event.involvedObject.name + '/' + event.metadata.environment + '/' + provider.metadata.uid + '/' + alert.metadata.name";
    expect(await githubContext(expr)).toBe(`Kustomization/gitops-system/production/${UID}/test-alert`);
  });

  it('metadata the event does not have: a permanent failure naming the key, nothing posted', async () => {
    const expr = "event.involvedObject.kind + '/' + event.metadata.notfound + '/' + provider.metadata.uid";
    answerListThenPost([]);
    const error = await failureOf(deliver(github, config('github', expr), event({ foo: 'bar' }), ALERT));
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/^failed to evaluate spec\.commitStatusExpr for the event: No such key: notfound \(at column \d+\)$/);
    expect(sink().requests).toHaveLength(0);
  });

  it('a bool expression does not compile to a status id: the Provider is not Ready', () => {
    expect(problemOf(github, config('github', "event.involvedObject.kind == 'Kustomization'"))).toBe(
      'spec.commitStatusExpr must return a string, not bool',
    );
  });
});

describe('spec.commitStatusExpr: Flux docs example', () => {
  it('lower-cases with lowerAscii() and reads event metadata, on gitlab too', async () => {
    const expr =
      "(event.involvedObject.kind + '/' + event.involvedObject.name + '/' + event.metadata.foo + '/' + provider.metadata.uid.split('-').first().value()).lowerAscii()";
    answerListThenPost([]);
    const requests = await deliver(gitlab, config('gitlab', expr), event({ foo: 'Blue' }), ALERT);
    expect((JSON.parse(requests[1]!.body) as { name: string }).name).toBe('kustomization/gitops-system/blue/0c9c2e41');
  });

  it('an existing status with the computed id is a duplicate: nothing is posted', async () => {
    const expr = "provider.metadata.name + '/' + event.involvedObject.name";
    answerListThenPost([{ context: 'test-provider/gitops-system', state: 'success', description: 'apply succeeded' }]);
    await deliver(github, config('github', expr), event(), ALERT);
    expect(sink().requests.map((r) => r.method)).toEqual(['GET']);
  });

  it('reads the Alert spec and the Provider spec', async () => {
    const alert: AlertIdentity = { ...ALERT, spec: { providerRef: { name: 'p' }, eventSources: [], summary: 'prod' } };
    expect(await githubContext("alert.spec.summary + '/' + provider.spec.type", event(), alert)).toBe('prod/github');
  });
});

describe('spec.commitStatusExpr: compile errors and bounds', () => {
  it('a syntax error names the field and the column', () => {
    expect(problemOf(github, config('github', "event.involvedObject.kind + "))).toMatch(
      /^spec\.commitStatusExpr does not compile: .+ \(at column 29\)$/,
    );
  });

  it('an unknown variable does not compile', () => {
    expect(problemOf(github, config('github', "secret.token"))).toMatch(/^spec\.commitStatusExpr does not compile: /);
  });

  it('an int result is refused at compile time; a dyn that is not a string fails the event', async () => {
    expect(problemOf(github, config('github', '1 + 2'))).toBe('spec.commitStatusExpr must return a string, not int');
    answerListThenPost([]);
    const error = await failureOf(deliver(github, config('github', 'event.involvedObject'), event(), ALERT));
    expect(error.retryable).toBe(false);
    expect(error.message).toBe('spec.commitStatusExpr returned a map for the event, not a string');
  });

  it('an empty result fails the event without retry', async () => {
    answerListThenPost([]);
    const error = await failureOf(deliver(github, config('github', "event.metadata.environment.substring(0, 0)"), event(), ALERT));
    expect(error.retryable).toBe(false);
    expect(error.message).toBe('spec.commitStatusExpr returned an empty string for the event');
  });

  it('bounds the expression length', () => {
    const long = `'${'a'.repeat(MAX_EXPRESSION_LENGTH)}'`;
    expect(compileStatusIdExpression(long)).toEqual({
      ok: false,
      problem: `spec.commitStatusExpr is ${long.length} characters long, more than the ${MAX_EXPRESSION_LENGTH} allowed`,
    });
  });

  it('reports a compile error together with the other problems of the Provider', () => {
    const problem = problemOf(github, config('github', '1 +', { address: 'https://github.com/only-owner', token: undefined }));
    const parts = problem?.split('; ') ?? [];
    expect(parts).toHaveLength(3);
    expect(parts[0]).toMatch(/^spec\.commitStatusExpr does not compile/);
    expect(parts[1]).toMatch(/^spec\.address is not a GitHub repository address/);
    expect(parts[2]).toMatch(/token/);
  });

  it('never puts the token in an evaluation error', async () => {
    answerListThenPost([]);
    const error = await failureOf(deliver(github, config('github', "provider.spec.address + event.metadata.none"), event(), ALERT));
    expect(error.message).not.toContain(TOKEN);
  });
});
