import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { receiverReadiness, validateReceiver, webhookPath } from '../../src/receivers/index.js';
import { TOKEN, receiverManifest } from '../support/receivers.js';

describe('webhookPath', () => {
  it('is /hook/ and the sha256 of token, name and namespace written together', () => {
    // printf 'b3c0a5f1e2d94c7a8e6f0d1c2b3a4958webapp-receiverapps' | sha256sum
    expect(webhookPath(TOKEN, 'webapp-receiver', 'apps')).toBe('/hook/f14fb79ab77482e79f294cb797540a78f19fd1707c5aa7df8038623e7cdd31c0');
  });

  it('has no separator, so it changes with any of the three', () => {
    const sha = (s: string) => `/hook/${createHash('sha256').update(s).digest('hex')}`;
    expect(webhookPath('t', 'n', 'ns')).toBe(sha('tnns'));
    expect(webhookPath('t', 'n', 'ns')).not.toBe(webhookPath('t', 'n', 'ns2'));
    expect(webhookPath('', 'n', 'ns')).toBe(sha('nns'));
  });
});

describe('validateReceiver', () => {
  it("reads Flux's docs example", () => {
    const { receiver, findings } = validateReceiver(parse(`
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata:
  name: github-receiver
  namespace: flux-system
spec:
  type: github
  events:
    - "ping"
    - "push"
  secretRef:
    name: receiver-token
  resources:
    - apiVersion: source.toolkit.fluxcd.io/v1
      kind: GitRepository
      name: flux-system
`));
    expect(findings).toEqual([]);
    expect(receiver?.spec).toEqual({
      type: 'github',
      events: ['ping', 'push'],
      secretRef: { name: 'receiver-token' },
      resources: [{ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', name: 'flux-system' }],
    });
  });

  it('names the field of every problem', () => {
    const { findings } = validateReceiver({
      apiVersion: 'notification.toolkit.fluxcd.io/v1',
      kind: 'Receiver',
      metadata: { name: 'r' },
      spec: {
        type: 'gitea',
        interval: 'often',
        events: 'push',
        resources: [{ kind: 'Deployment', name: '' }, { kind: 'GitRepository', name: 'x', matchLabels: { a: 1 } }],
      },
    });
    expect(findings.map((f) => f.message)).toEqual([
      expect.stringContaining('spec.type must be one of generic, generic-hmac, generic-oidc, github'),
      'spec.interval must be a duration such as 10m or 1h30m',
      'spec.events must be a list of strings',
      'Reconciliation failed terminally due to configuration error: spec.secretRef is required when type is not generic-oidc',
      expect.stringContaining('spec.resources[0].kind must be one of Bucket, GitRepository'),
      'spec.resources[0].name is required',
      'spec.resources[1].matchLabels must be a map of strings',
    ]);
    expect(findings[3]?.reason).toBe('ValidationFailed');
  });

  it("applies the CRD's cross-field rules on secretRef and oidcProviders", () => {
    const reasons = (manifest: unknown) => validateReceiver(manifest).findings.map((f) => `${f.reason}: ${f.message.replace(/^Reconciliation failed terminally due to configuration error: /, '')}`);
    expect(reasons(receiverManifest('generic-oidc'))).toEqual([
      'ValidationFailed: generic-oidc receiver requires at least one oidcProvider',
      'ValidationFailed: spec.secretRef cannot be set when type is generic-oidc',
    ]);
    const provider = { issuerURL: 'https://token.actions.githubusercontent.com', validations: [{ expression: "claims.repository_owner == 'my-org'", message: 'wrong org' }] };
    expect(reasons(receiverManifest('github', { oidcProviders: [provider] }))).toEqual(['ValidationFailed: spec.oidcProviders can only be set when type is generic-oidc']);
    const { secretRef: _omitted, ...specWithoutSecret } = receiverManifest('generic-oidc').spec;
    const oidc = (providers: unknown[]) => ({ ...receiverManifest('generic-oidc'), spec: { ...specWithoutSecret, oidcProviders: providers } });
    expect(reasons(oidc([provider]))).toEqual([]);
    expect(reasons(oidc([{ issuerURL: 'token.actions.githubusercontent.com', validations: [] }, provider, provider]))).toEqual([
      'InvalidSpec: spec.oidcProviders[0].issuerURL must start with http:// or https://',
      'InvalidSpec: spec.oidcProviders[0].validations must list at least one validation: without one, any caller able to obtain a token from this issuer can trigger the Receiver',
      "InvalidSpec: spec.oidcProviders[2].issuerURL duplicates an earlier provider's",
    ]);
    expect(reasons(oidc([{ ...provider, variables: [{ name: 'owner', expression: 'claims.' }] }]))).toEqual([
      expect.stringMatching(/^InvalidCELExpression: spec\.oidcProviders\[0\] \(issuerURL="https:\/\/token\.actions\.githubusercontent\.com"\): invalid expression for variable "owner": /),
    ]);
  });

  it('needs a name; the namespace defaults to default', () => {
    expect(validateReceiver({ apiVersion: 'notification.toolkit.fluxcd.io/v1', kind: 'Receiver', metadata: {}, spec: {} }).receiver).toBeUndefined();
    const { receiver } = validateReceiver({ ...receiverManifest('generic'), metadata: { name: 'r' } });
    expect(receiver?.metadata.namespace).toBe('default');
  });
});

describe('receiverReadiness', () => {
  const now = new Date('2026-11-30T12:00:00Z');

  it('is Ready with the webhook path when the Secret has a token (Flux: "Receiver initialized for path")', () => {
    const { receiver, findings } = validateReceiver(receiverManifest('generic'));
    const readiness = receiverReadiness(receiver!, findings, { token: TOKEN }, undefined, now);
    expect(readiness.webhookPath).toBe(webhookPath(TOKEN, 'webapp-receiver', 'apps'));
    expect(readiness.ready).toEqual({
      type: 'Ready', status: 'True', reason: 'Succeeded', message: `Receiver initialized for path: ${readiness.webhookPath}`,
      observedGeneration: 1, lastTransitionTime: now.toISOString(),
    });
  });

  it("is TokenNotFound without the Secret or without its 'token' key, and never shows a value", () => {
    const { receiver, findings } = validateReceiver(receiverManifest('generic'));
    const missing = receiverReadiness(receiver!, findings, undefined, undefined, now);
    expect(missing.ready).toMatchObject({ status: 'False', reason: 'TokenNotFound', message: `unable to read token from secret 'apps/webhook-token' error: secrets "webhook-token" not found` });
    expect(missing.webhookPath).toBe('');
    const noToken = receiverReadiness(receiver!, findings, { tokn: 'typo-value' }, undefined, now);
    expect(noToken.ready).toMatchObject({ status: 'False', reason: 'TokenNotFound', message: "invalid 'apps/webhook-token' secret data: required fields 'token'" });
    expect(noToken.ready.message).not.toContain('typo-value');
  });

  it('keeps the last webhook path after a configuration error, as Flux does, and clears it without a token', () => {
    const good = validateReceiver(receiverManifest('generic'));
    const before = receiverReadiness(good.receiver!, good.findings, { token: TOKEN }, {}, now);
    const broken = validateReceiver(receiverManifest('generic', { resourceFilter: '1 +' }));
    const after = receiverReadiness(broken.receiver!, broken.findings, { token: TOKEN }, before, now);
    expect(after.ready.status).toBe('False');
    expect(after.webhookPath).toBe(before.webhookPath);
    expect(receiverReadiness(good.receiver!, good.findings, undefined, before, now).webhookPath).toBe('');
  });

  it('keeps lastTransitionTime while the status stays the same', () => {
    const { receiver, findings } = validateReceiver(receiverManifest('generic'));
    const first = receiverReadiness(receiver!, findings, { token: TOKEN }, undefined, now).ready;
    const later = receiverReadiness(receiver!, findings, { token: TOKEN }, { ready: first }, new Date('2026-11-30T13:00:00Z')).ready;
    expect(later.lastTransitionTime).toBe(now.toISOString());
  });
});
