import { describe, expect, it } from 'vitest';
import { adapterFor } from '../../providers/registry.js';
import { compileAlert } from '../../src/alerts/compile.js';
import { DEFAULT_TIMEOUT_MS, parseTimeout } from '../../src/resources/provider-config.js';
import { readyCondition } from '../../src/api/conditions.js';
import type { Alert, AlertSpec, Provider, ProviderSpec, Secret } from '../../src/api/types.js';
import {
  FLUX_PROVIDER_TYPES,
  compileFindings,
  providerRefFindings,
  validateAlertSpec,
  validateProvider,
  type SecretLookup,
} from '../../src/resources/validate.js';

function provider(spec: Partial<ProviderSpec>, namespace = 'apps'): Provider {
  return {
    apiVersion: 'notification.toolkit.fluxcd.io/v1beta3',
    kind: 'Provider',
    metadata: { name: 'hook', namespace },
    spec: { type: 'generic', address: 'https://hooks.example.com/x', ...spec },
  };
}

function secret(name: string, data: Record<string, string>, namespace = 'apps'): Secret {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace }, data };
}

function lookup(...secrets: Secret[]): SecretLookup {
  return (namespace, name) => secrets.find((s) => s.metadata.namespace === namespace && s.metadata.name === name);
}

function alert(spec: Partial<AlertSpec>): Alert {
  return {
    apiVersion: 'notification.toolkit.fluxcd.io/v1beta3',
    kind: 'Alert',
    metadata: { name: 'a', namespace: 'apps' },
    spec: { providerRef: { name: 'hook' }, eventSources: [{ kind: 'Kustomization', name: '*' }], ...spec },
  };
}

/** The reasons and messages of a Provider's findings. */
function findingsOf(p: Provider, secrets: SecretLookup = lookup()) {
  return validateProvider(p, secrets).findings;
}

describe('validateProvider', () => {
  it('accepts a valid Provider and hands back its adapter and resolved config', () => {
    const result = validateProvider(provider({ timeout: '1m30s' }), lookup());
    expect(result.findings).toEqual([]);
    expect(result.adapter?.type).toBe('generic');
    expect(result.config).toMatchObject({ address: 'https://hooks.example.com/x', timeoutMs: 90_000 });
  });

  it('tells an unknown type from a Flux type Herald does not support yet', () => {
    expect(findingsOf(provider({ type: 'carrier-pigeon' }))).toEqual([
      { reason: 'UnknownProviderType', message: expect.stringMatching(/^spec\.type 'carrier-pigeon' is not a Flux provider type \(Herald supports: .*generic/) },
    ]);
    // Every type of Flux v1.9's CRD has an adapter; Flux main added `zoom` (not supported yet)
    // and `incident.io` (Herald's `incidentio` adapter, under both names).
    expect(['zoom', 'incident.io'].every((type) => FLUX_PROVIDER_TYPES.has(type))).toBe(true);
    expect(adapterFor('incident.io')?.send).toBe(adapterFor('incidentio')?.send);
    const notYet = [...FLUX_PROVIDER_TYPES].find((type) => !adapterFor(type));
    expect(notYet, 'every Flux type has an adapter: pick another case').toBeDefined();
    expect(findingsOf(provider({ type: notYet }))).toEqual([
      {
        reason: 'ProviderTypeNotSupported',
        message: expect.stringContaining(`spec.type '${notYet}' is a Flux provider type that Herald does not support yet`),
      },
    ]);
    expect(findingsOf(provider({ type: '' }))).toEqual([{ reason: 'InvalidSpec', message: 'spec.type is required' }]);
  });

  it('rejects a timeout outside Flux pattern, and a zero one', () => {
    for (const timeout of ['15', '1h', '30 s', '-1s', 'abc']) {
      expect(findingsOf(provider({ timeout }))).toEqual([{ reason: 'InvalidTimeout', message: expect.stringContaining(`spec.timeout '${timeout}'`) }]);
    }
    expect(findingsOf(provider({ timeout: '0s' }))).toEqual([{ reason: 'InvalidTimeout', message: 'spec.timeout must be greater than zero' }]);
  });

  it('requires a valid http(s) address, naming where it came from without quoting it', () => {
    expect(findingsOf(provider({ address: 'not a url' }))).toEqual([
      { reason: 'InvalidAddress', message: 'spec.address is not a valid http(s) URL' },
    ]);
    expect(findingsOf(provider({ address: 'ftp://files.example.com' }))).toEqual([
      { reason: 'InvalidAddress', message: 'spec.address is not a valid http(s) URL' },
    ]);
    expect(findingsOf(provider({ address: undefined }))).toEqual([
      { reason: 'InvalidAddress', message: expect.stringContaining('no address: set spec.address') },
    ]);
    const fromSecret = findingsOf(provider({ address: undefined, secretRef: { name: 'hook' } }), lookup(secret('hook', { address: 'hooks.example.com/T0KEN' })));
    expect(fromSecret).toEqual([
      { reason: 'InvalidAddress', message: "key 'address' of Secret 'apps/hook' (spec.secretRef) is not a valid http(s) URL" },
    ]);
    expect(JSON.stringify(fromSecret)).not.toContain('T0KEN');
  });

  it('takes the address from the Secret when the spec has none', () => {
    const result = validateProvider(provider({ address: undefined, secretRef: { name: 'hook' } }), lookup(secret('hook', { address: 'https://a.example.com' })));
    expect(result.findings).toEqual([]);
    expect(result.config?.address).toBe('https://a.example.com');
  });

  it('reports each referenced Secret that does not exist in the Provider namespace', () => {
    const secrets = lookup(secret('token', { token: 't' }, 'other-namespace'));
    expect(findingsOf(provider({ secretRef: { name: 'token' }, certSecretRef: { name: 'certs' }, proxySecretRef: { name: 'proxy' } }), secrets)).toEqual([
      { reason: 'SecretNotFound', message: "Secret 'apps/token' named by spec.secretRef was not found" },
      { reason: 'SecretNotFound', message: "Secret 'apps/certs' named by spec.certSecretRef was not found" },
      { reason: 'SecretNotFound', message: "Secret 'apps/proxy' named by spec.proxySecretRef was not found" },
    ]);
  });

  it("passes on the adapter's own verdict: generic-hmac without a token key", () => {
    const p = provider({ type: 'generic-hmac', secretRef: { name: 'hmac' } });
    expect(findingsOf(p, lookup(secret('hmac', { other: 'x' })))).toEqual([
      { reason: 'InvalidProviderConfig', message: expect.stringContaining('`token`') },
    ]);
    expect(findingsOf(p, lookup(secret('hmac', { token: 'key' })))).toEqual([]);
  });

  it('checks proxies from every source', () => {
    expect(findingsOf(provider({ proxy: 'socks5://proxy:1080' }))).toEqual([
      { reason: 'InvalidProxy', message: 'spec.proxy must start with http:// or https://' },
    ]);
    expect(findingsOf(provider({ secretRef: { name: 's' } }), lookup(secret('s', { proxy: '::nonsense' })))).toEqual([
      { reason: 'InvalidProxy', message: "key 'proxy' of Secret 'apps/s' (spec.secretRef) is not a valid http(s) URL" },
    ]);
    expect(findingsOf(provider({ proxySecretRef: { name: 'p' } }), lookup(secret('p', { username: 'u' })))).toEqual([
      { reason: 'InvalidSecret', message: "Secret 'apps/p' (spec.proxySecretRef) has no 'address' key" },
    ]);
    expect(findingsOf(provider({ proxySecretRef: { name: 'p' } }), lookup(secret('p', { address: 'proxy.local:3128' })))).toEqual([
      { reason: 'InvalidProxy', message: "key 'address' of Secret 'apps/p' (spec.proxySecretRef) is not a valid http(s) URL" },
    ]);
  });

  it('rejects headers that are not a YAML map of strings, and incomplete TLS material', () => {
    expect(findingsOf(provider({ secretRef: { name: 's' } }), lookup(secret('s', { headers: '- a\n- b' })))).toEqual([
      { reason: 'InvalidSecret', message: "key 'headers' of Secret 'apps/s' (spec.secretRef) must be a YAML map of header names to string values" },
    ]);
    expect(findingsOf(provider({ certSecretRef: { name: 'c' } }), lookup(secret('c', { 'tls.crt': 'x' })))).toEqual([
      { reason: 'InvalidSecret', message: "Secret 'apps/c' (spec.certSecretRef) has 'tls.crt' but no 'tls.key'" },
    ]);
    expect(findingsOf(provider({ certSecretRef: { name: 'c' } }), lookup(secret('c', { 'ca.crt': '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' })))).toEqual([
      { reason: 'InvalidSecret', message: expect.stringContaining("Secret 'apps/c' (spec.certSecretRef) holds unusable TLS material") },
    ]);
    expect(findingsOf(provider({ certSecretRef: { name: 'c' } }), lookup(secret('c', { unrelated: 'x' })))).toEqual([
      { reason: 'InvalidSecret', message: "Secret 'apps/c' (spec.certSecretRef) has none of 'ca.crt', 'tls.crt', 'tls.key'" },
    ]);
  });

  it("enforces the CRD's other rules", () => {
    expect(findingsOf(provider({ commitStatusExpr: "'x'" }))).toEqual([
      { reason: 'InvalidSpec', message: expect.stringContaining('spec.commitStatusExpr is only supported for the github') },
    ]);
    expect(findingsOf(provider({ channel: 'c'.repeat(2049) }))).toEqual([
      { reason: 'InvalidSpec', message: 'spec.channel is longer than 2048 characters' },
    ]);
    expect(findingsOf(provider({ serviceAccountName: 'sa' }))).toEqual([
      { reason: 'Unsupported', message: expect.stringContaining('spec.serviceAccountName') },
    ]);
  });
});

describe('validateProvider: several problems at once', () => {
  it('lists a bad timeout, a bad address and a missing token in one Ready message, with the first reason', () => {
    const p = provider({ type: 'generic-hmac', timeout: '1h', address: 'ftp://hooks.example.com/x', secretRef: { name: 'hmac' } });
    const findings = findingsOf(p, lookup(secret('hmac', { headers: 'X-A: b' })));
    expect(findings.map((f) => f.reason)).toEqual(['InvalidTimeout', 'InvalidAddress', 'InvalidProviderConfig']);
    expect(findings[2]!.message).toMatch(/generic-hmac needs the HMAC key/);
    const condition = readyCondition(findings, 'Provider is ready', undefined, undefined);
    expect(condition.reason).toBe('InvalidTimeout');
    expect(condition.message.split('; ')).toEqual(findings.map((f) => f.message));
  });

  it("lists every problem of a commit-status Provider: its expression, address and token, not the address twice", () => {
    const findings = findingsOf(provider({ type: 'github', address: 'https://github.com/only-owner', commitStatusExpr: '1 +' }));
    expect(findings.map((f) => f.message)).toEqual([
      expect.stringMatching(/^spec\.commitStatusExpr does not compile/),
      expect.stringMatching(/^spec\.address is not a GitHub repository address/),
      expect.stringMatching(/token/),
    ]);
    const notAUrl = findingsOf(provider({ type: 'github', address: 'not a url' }));
    expect(notAUrl.map((f) => f.reason)).toEqual(['InvalidAddress', 'InvalidProviderConfig']);
    expect(notAUrl.filter((f) => f.message.includes('spec.address'))).toHaveLength(1);
  });

  it("lists each missing setting of one adapter (telegram's chat and token)", () => {
    const findings = findingsOf(provider({ type: 'telegram', address: undefined }));
    expect(findings.map((f) => f.message)).toEqual([expect.stringMatching(/spec\.channel/), expect.stringMatching(/token/)]);
  });

  it('reports a missing Secret with the spec problems, and nothing that only echoes it', () => {
    const findings = findingsOf(provider({ type: 'generic-hmac', timeout: 'soon', secretRef: { name: 'gone' } }));
    expect(findings.map((f) => f.reason)).toEqual(['InvalidTimeout', 'SecretNotFound']);
  });
});

describe('parseTimeout', () => {
  it('reads Go durations in ms, s and m', () => {
    expect(parseTimeout('15s')).toBe(15_000);
    expect(parseTimeout('1m30s')).toBe(90_000);
    expect(parseTimeout('1.5s')).toBe(1_500);
    expect(parseTimeout('250ms')).toBe(250);
    expect(parseTimeout('2m')).toBe(120_000);
    expect(parseTimeout('1h')).toBeUndefined();
    expect(DEFAULT_TIMEOUT_MS).toBe(15_000);
  });
});

describe('alert validation', () => {
  it('requires a providerRef, event sources with kind and name, and a known severity', () => {
    expect(validateAlertSpec(alert({}))).toEqual([]);
    const bad = alert({
      providerRef: { name: '' },
      eventSources: [{ kind: '', name: 'x' }, { kind: 'Kustomization', name: '' }],
      eventSeverity: 'warning' as AlertSpec['eventSeverity'],
    });
    expect(validateAlertSpec(bad)).toEqual([
      { reason: 'InvalidSpec', message: 'spec.providerRef.name is required' },
      { reason: 'InvalidSpec', message: 'spec.eventSources[0].kind is required' },
      { reason: 'InvalidSpec', message: 'spec.eventSources[1].name is required' },
      { reason: 'InvalidSpec', message: "spec.eventSeverity must be 'info' or 'error', not 'warning'" },
    ]);
    expect(validateAlertSpec(alert({ eventSources: [] }))).toEqual([
      { reason: 'InvalidSpec', message: 'spec.eventSources must list at least one event source' },
    ]);
  });

  it('reports invalid regexes as InvalidRegex, naming the field', () => {
    const compiled = compileAlert(alert({ inclusionList: ['ok', '(unclosed'], exclusionList: ['a(?=b)'] }));
    expect(compileFindings(compiled)).toEqual([
      { reason: 'InvalidRegex', message: expect.stringMatching(/^spec\.inclusionList\[1\]: /) },
      { reason: 'InvalidRegex', message: expect.stringMatching(/^spec\.exclusionList\[0\]: /) },
    ]);
  });

  it('reports a missing or unready Provider', () => {
    expect(providerRefFindings(alert({}), undefined)).toEqual([
      { reason: 'ProviderNotFound', message: "Provider 'apps/hook' named by spec.providerRef was not found" },
    ]);
    expect(providerRefFindings(alert({}), { ready: false, message: 'spec.timeout must be greater than zero' })).toEqual([
      { reason: 'ProviderNotReady', message: "Provider 'apps/hook' named by spec.providerRef is not ready: spec.timeout must be greater than zero" },
    ]);
    expect(providerRefFindings(alert({}), { ready: true, message: 'Provider is ready' })).toEqual([]);
  });
});
