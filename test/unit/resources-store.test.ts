import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { FluxEvent } from '../../src/events/event.js';
import { parseManifests } from '../../src/resources/manifests.js';
import { ResourceStore, sameContent, type StoreChange } from '../../src/resources/store.js';
import type { Alert, AlertSpec, LabelledObject, Logger, Provider, ProviderSpec, Secret, StoredObject } from '../../src/api/types.js';

const NS = 'flux-system';

function provider(name: string, spec: Partial<ProviderSpec> = {}, namespace = NS): Provider {
  return {
    apiVersion: 'notification.toolkit.fluxcd.io/v1beta3',
    kind: 'Provider',
    metadata: { name, namespace },
    spec: { type: 'generic', address: 'https://hooks.example.com/x', ...spec },
  };
}

function alert(name: string, spec: Partial<AlertSpec> = {}, namespace = NS): Alert {
  return {
    apiVersion: 'notification.toolkit.fluxcd.io/v1beta3',
    kind: 'Alert',
    metadata: { name, namespace },
    spec: { providerRef: { name: 'hook' }, eventSources: [{ kind: 'Kustomization', name: '*' }], ...spec },
  };
}

function secret(name: string, data: Record<string, string>, namespace = NS): Secret {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace }, data };
}

function labelled(apiVersion: string, kind: string, name: string, labels?: Record<string, string>, namespace = NS): LabelledObject {
  return { apiVersion, kind, metadata: { name, namespace, ...(labels ? { labels } : {}) } };
}

function event(message = 'Reconciliation finished'): FluxEvent {
  return {
    involvedObject: { apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', name: 'apps', namespace: NS },
    severity: 'info',
    message,
    reason: 'ReconciliationSucceeded',
    reportingController: 'kustomize-controller',
  };
}

function statusOf(store: ResourceStore, kind: 'Provider' | 'Alert', name: string) {
  return store.statuses().resources.find((s) => s.kind === kind && s.name === name);
}

/** Collects the `'changed'` events. */
function changes(store: ResourceStore): StoreChange[] {
  const seen: StoreChange[] = [];
  store.on('changed', (change) => seen.push(change));
  return seen;
}

function newStore(opts: ConstructorParameters<typeof ResourceStore>[0] = {}): ResourceStore {
  return new ResourceStore(opts);
}

afterEach(() => {
  vi.useRealTimers();
});

describe('ResourceStore', () => {
  it('is loaded after the first snapshot, and resolves ready Providers with their configuration', () => {
    const store = newStore();
    expect(store.loaded).toBe(false);
    store.replaceAll([provider('hook'), alert('a')], []);
    expect(store.loaded).toBe(true);
    const resolved = store.provider(NS, 'hook');
    expect(resolved).toMatchObject({ ready: true, reason: 'Succeeded', suspended: false });
    expect(resolved?.adapter?.type).toBe('generic');
    expect(resolved?.config?.address).toBe('https://hooks.example.com/x');
    expect(resolved?.configHash).toMatch(/^[0-9a-f]{64}$/);
    expect(statusOf(store, 'Alert', 'a')?.ready).toMatchObject({ status: 'True', reason: 'Succeeded' });
    expect(store.alerts.size).toBe(1);
  });

  it('a Secret with invalid base64 makes its Provider say InvalidSecret, naming the Secret and key, never the value', () => {
    const store = newStore();
    const { objects, problems } = parseManifests(
      `apiVersion: v1\nkind: Secret\nmetadata: { name: hmac, namespace: ${NS} }\ndata: { token: "s3cr3t-value!" }\n`,
      'secret.yaml',
    );
    store.replaceAll([provider('hook', { type: 'generic-hmac', secretRef: { name: 'hmac' } }), ...objects], problems);
    const resolved = store.provider(NS, 'hook');
    expect(resolved).toMatchObject({ ready: false, reason: 'InvalidSecret' });
    expect(resolved?.message).toBe(`Secret '${NS}/hmac' named by spec.secretRef cannot be used: data.token is not valid base64`);
    expect(JSON.stringify(store.statuses())).not.toContain('s3cr3t');
  });

  it('re-resolves a Provider when its Secret appears, and then re-validates its Alerts', () => {
    const store = newStore();
    const seen = changes(store);
    store.replaceAll([provider('hook', { type: 'generic-hmac', secretRef: { name: 'hmac' } }), alert('a'), alert('b', { providerRef: { name: 'other' } })], []);
    expect(store.provider(NS, 'hook')).toMatchObject({ ready: false, reason: 'SecretNotFound' });
    expect(statusOf(store, 'Alert', 'a')?.ready).toMatchObject({ status: 'False', reason: 'ProviderNotReady' });
    expect(statusOf(store, 'Alert', 'b')?.ready).toMatchObject({ status: 'False', reason: 'ProviderNotFound' });
    // Both stay indexed: the dispatcher checks the Provider, as Flux does at dispatch.
    expect(store.alerts.size).toBe(2);

    store.upsert(secret('hmac', { token: 'k3y' }));
    expect(store.provider(NS, 'hook')).toMatchObject({ ready: true });
    expect(statusOf(store, 'Alert', 'a')?.ready.status).toBe('True');
    expect(statusOf(store, 'Alert', 'b')?.ready.reason).toBe('ProviderNotFound');
    expect(seen.at(-1)).toEqual({ providers: [`${NS}/hook`], alerts: [`${NS}/a`] });

    // The key goes: the adapter's own check fails.
    store.upsert(secret('hmac', { other: 'x' }));
    expect(store.provider(NS, 'hook')).toMatchObject({ ready: false, reason: 'InvalidProviderConfig' });
    expect(statusOf(store, 'Alert', 'a')?.ready.reason).toBe('ProviderNotReady');
  });

  it('only evaluates again what a change touches', () => {
    const store = newStore();
    const seen = changes(store);
    const objects: StoredObject[] = [
      provider('hook', { secretRef: { name: 's1' } }),
      provider('other', { secretRef: { name: 's2' } }),
      secret('s1', { token: 'a' }),
      secret('s2', { token: 'b' }),
      alert('a'),
      alert('b', { providerRef: { name: 'other' } }),
    ];
    store.replaceAll(objects, []);
    const otherBefore = store.provider(NS, 'other');

    // The same snapshot again (keys in another order): nothing to do, no event.
    store.replaceAll([...objects].reverse().map((o) => JSON.parse(JSON.stringify(o)) as StoredObject), []);
    expect(seen).toHaveLength(1);

    // A Secret change re-resolves only its Provider; the Alerts' conditions did not move.
    store.replaceAll(objects.map((o) => (o.metadata.name === 's1' ? secret('s1', { token: 'changed' }) : o)), []);
    expect(seen.at(-1)).toEqual({ providers: [`${NS}/hook`], alerts: [] });
    expect(store.provider(NS, 'other')).toBe(otherBefore);
  });

  it('changes the configuration hash (which keys the HTTP client) only when the resolved configuration changes', () => {
    const store = newStore();
    store.replaceAll([provider('hook', { secretRef: { name: 's' } }), secret('s', { token: 'one' })], []);
    const first = store.provider(NS, 'hook')?.configHash;
    store.upsert(secret('unrelated', { x: 'y' }));
    expect(store.provider(NS, 'hook')?.configHash).toBe(first);
    store.upsert(secret('s', { token: 'two' }));
    const second = store.provider(NS, 'hook')?.configHash;
    expect(second).toBeDefined();
    expect(second).not.toBe(first);
    expect(store.provider(NS, 'hook')?.config?.token).toBe('two');
  });

  it("prepares a Provider's adapter once per version: the prepared value is kept until the Provider or its Secret changes", () => {
    const store = newStore();
    const hmac = provider('hook', { type: 'generic-hmac', secretRef: { name: 's' } });
    store.replaceAll([hmac, secret('s', { token: 'one' }), alert('a')], []);
    const first = store.provider(NS, 'hook')?.prepared;
    expect(first).toEqual({ url: 'https://hooks.example.com/x', key: 'one' });

    store.upsert(secret('unrelated', { x: 'y' }));
    store.upsert(alert('b'));
    expect(store.provider(NS, 'hook')?.prepared).toBe(first);

    store.upsert(secret('s', { token: 'two' }));
    expect(store.provider(NS, 'hook')?.prepared).toEqual({ url: 'https://hooks.example.com/x', key: 'two' });
    store.upsert(provider('hook', { type: 'generic-hmac', secretRef: { name: 's' }, address: 'https://hooks.example.com/y' }));
    expect(store.provider(NS, 'hook')?.prepared).toEqual({ url: 'https://hooks.example.com/y', key: 'two' });

    // Not ready: nothing prepared to send with.
    store.upsert(secret('s', { other: 'x' }));
    expect(store.provider(NS, 'hook')).toMatchObject({ ready: false, prepared: undefined });
  });

  it('follows Provider removal and return in the Alerts that name it', () => {
    const store = newStore();
    store.replaceAll([provider('hook'), alert('a')], []);
    store.remove('Provider', NS, 'hook');
    expect(store.provider(NS, 'hook')).toBeUndefined();
    expect(statusOf(store, 'Alert', 'a')?.ready).toMatchObject({
      status: 'False',
      reason: 'ProviderNotFound',
      message: "Provider 'flux-system/hook' named by spec.providerRef was not found",
    });
    store.upsert(provider('hook'));
    expect(statusOf(store, 'Alert', 'a')?.ready.status).toBe('True');
  });

  it('keeps an Alert with an invalid regex indexed, with Flux semantics, but not Ready', async () => {
    const store = newStore();
    store.replaceAll([provider('hook'), alert('a', { exclusionList: ['(unclosed', 'noisy'] })], []);
    expect(statusOf(store, 'Alert', 'a')).toMatchObject({
      ready: { status: 'False', reason: 'InvalidRegex', message: expect.stringContaining('spec.exclusionList[0]') },
      problems: [expect.stringContaining('spec.exclusionList[0]')],
    });
    // The invalid exclusion is ignored; the valid one still applies.
    expect((await store.alerts.match(event('all good'), () => undefined)).map((a) => a.key)).toEqual([`${NS}/a`]);
    expect(await store.alerts.match(event('noisy message'), () => undefined)).toEqual([]);
  });

  it('leaves an Alert with an invalid spec out of the index', async () => {
    const store = newStore();
    store.replaceAll([provider('hook'), alert('a', { eventSources: [] })], []);
    expect(statusOf(store, 'Alert', 'a')?.ready).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
    expect(store.alerts.size).toBe(0);
    store.upsert(alert('a'));
    expect(await store.alerts.match(event(), () => undefined)).toHaveLength(1);
    store.remove('Alert', NS, 'a');
    expect(store.alerts.size).toBe(0);
    expect(statusOf(store, 'Alert', 'a')).toBeUndefined();
  });

  it('keeps lastTransitionTime while the status does not change', () => {
    vi.useFakeTimers({ now: new Date('2025-01-01T00:00:00Z') });
    const store = newStore();
    store.replaceAll([provider('hook', { timeout: '5s' }), alert('a')], []);
    const since = statusOf(store, 'Provider', 'hook')?.ready.lastTransitionTime;
    expect(since).toBe('2025-01-01T00:00:00.000Z');

    vi.setSystemTime(new Date('2025-01-01T00:05:00Z'));
    store.upsert(provider('hook', { timeout: '10s' })); // still ready
    expect(statusOf(store, 'Provider', 'hook')?.ready.lastTransitionTime).toBe(since);

    vi.setSystemTime(new Date('2025-01-01T00:10:00Z'));
    store.upsert(provider('hook', { timeout: '0s' })); // not ready any more
    expect(statusOf(store, 'Provider', 'hook')?.ready).toMatchObject({
      status: 'False',
      reason: 'InvalidTimeout',
      lastTransitionTime: '2025-01-01T00:10:00.000Z',
    });
    expect(statusOf(store, 'Alert', 'a')?.ready.lastTransitionTime).toBe('2025-01-01T00:10:00.000Z');
  });

  it('reports suspension and observedGeneration', () => {
    const store = newStore();
    const suspended = provider('hook', { suspend: true });
    suspended.metadata.generation = 3;
    store.replaceAll([suspended, alert('a', { suspend: true })], []);
    expect(store.provider(NS, 'hook')).toMatchObject({ ready: true, suspended: true });
    expect(statusOf(store, 'Provider', 'hook')).toMatchObject({ suspended: true, ready: { observedGeneration: 3 } });
    expect(statusOf(store, 'Alert', 'a')?.suspended).toBe(true);
  });

  it('never exposes secret values in statuses or logs', () => {
    const logged: unknown[] = [];
    const logger: Logger = {
      info: (obj, msg) => logged.push(obj, msg),
      warn: (obj, msg) => logged.push(obj, msg),
      error: (obj, msg) => logged.push(obj, msg),
    };
    const store = newStore({ logger });
    const values = {
      address: 'not-a-url/S3CRET-IN-ADDRESS',
      token: 'S3CRET-TOKEN',
      password: 'S3CRET-PASSWORD',
      proxy: 'socks://S3CRET-PROXY',
      headers: 'Authorization: S3CRET-HEADER',
    };
    store.replaceAll(
      [
        provider('hook', { address: undefined, secretRef: { name: 's' } }),
        provider('proxy', { proxySecretRef: { name: 'p' } }),
        secret('s', values),
        secret('p', { address: 'bad proxy S3CRET-PROXY-ADDRESS', password: 'S3CRET-PROXY-PASSWORD' }),
        alert('a'),
      ],
      [{ file: 'x.yaml', document: 1, message: 'invalid YAML at line 1, column 1: something' }],
    );
    expect(store.provider(NS, 'hook')?.ready).toBe(false);
    expect(store.provider(NS, 'proxy')?.ready).toBe(false);
    const exposed = JSON.stringify([store.statuses(), logged]);
    expect(exposed).not.toMatch(/S3CRET/);
    expect(store.statuses().problems).toEqual([{ file: 'x.yaml', document: 1, message: 'invalid YAML at line 1, column 1: something' }]);
  });

  it('looks up labels by group, kind, namespace and name, ignoring versions', () => {
    const store = newStore();
    store.replaceAll(
      [
        labelled('kustomize.toolkit.fluxcd.io/v1beta2', 'Kustomization', 'apps', { team: 'a' }),
        labelled('example.com/v1', 'Widget', 'w', { x: 'y' }),
        labelled('source.toolkit.fluxcd.io/v1', 'GitRepository', 'bare'),
      ],
      [],
    );
    const ref = { kind: 'Kustomization', name: 'apps', namespace: NS };
    expect(store.labelsOf({ ...ref, apiVersion: 'kustomize.toolkit.fluxcd.io/v1' })).toEqual({ team: 'a' });
    expect(store.labelsOf(ref)).toEqual({ team: 'a' });
    expect(store.labelsOf({ ...ref, namespace: 'elsewhere' })).toBeUndefined();
    expect(store.labelsOf({ kind: 'Widget', name: 'w', namespace: NS, apiVersion: 'other.org/v1' })).toBeUndefined();
    expect(store.labelsOf({ kind: 'Widget', name: 'w', namespace: NS, apiVersion: 'example.com/v2' })).toEqual({ x: 'y' });
    expect(store.labelsOf({ kind: 'GitRepository', name: 'bare', namespace: NS, apiVersion: 'source.toolkit.fluxcd.io/v1' })).toEqual({});

    store.remove('Kustomization', NS, 'apps');
    expect(store.labelsOf(ref)).toBeUndefined();
  });

  it('feeds matchLabels through labelsOf', async () => {
    const store = newStore();
    store.replaceAll(
      [provider('hook'), alert('a', { eventSources: [{ kind: 'Kustomization', name: '*', matchLabels: { team: 'a' } }] })],
      [],
    );
    const labels = (ref: Parameters<ResourceStore['labelsOf']>[0]) => store.labelsOf(ref);
    expect(await store.alerts.match(event(), labels)).toEqual([]);
    store.upsert(labelled('kustomize.toolkit.fluxcd.io/v1', 'Kustomization', 'apps', { team: 'a' }));
    expect(await store.alerts.match(event(), labels)).toHaveLength(1);
  });

  it('honours noCrossNamespaceRefs in its index', async () => {
    const store = newStore({ noCrossNamespaceRefs: true });
    store.replaceAll(
      [provider('hook', {}, 'team'), alert('a', { eventSources: [{ kind: 'Kustomization', name: '*', namespace: NS }] }, 'team')],
      [],
    );
    expect(await store.alerts.match(event(), () => undefined)).toEqual([]);
  });
});

describe('ResourceStore.replaceAllGradually', () => {
  it('keeps serving the previous snapshot while it prepares the next, then swaps it in at once', async () => {
    const store = newStore();
    store.replaceAll([provider('hook'), alert('route', { eventSources: [{ kind: 'Kustomization', name: 'apps' }] })], []);
    const many = Array.from({ length: 2000 }, (_, i) => alert(`bulk-${i}`, { eventSources: [{ kind: 'Kustomization', name: `app-${i}` }], inclusionList: ['deploy'] }));
    const next = [provider('hook'), provider('other'), alert('route', { providerRef: { name: 'other' }, eventSources: [{ kind: 'Kustomization', name: 'apps' }] }), ...many];

    // Observed between slices: the event loop turns while the snapshot is prepared.
    const seen: Array<{ size: number; provider: string | undefined }> = [];
    let watching = true;
    const watch = async () => {
      while (watching) {
        const [matched] = await store.alerts.match(event(), () => undefined);
        seen.push({ size: store.alerts.size, provider: matched?.alert.spec.providerRef.name });
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    const watcher = watch();
    await store.replaceAllGradually(next, [], 0);
    watching = false;
    await watcher;

    expect(store.alerts.size).toBe(2001);
    expect(store.provider(NS, 'other')).toBeDefined();
    expect(statusOf(store, 'Alert', 'route')?.ready.status).toBe('True');
    // Many turns saw the previous snapshot whole; none saw a mix.
    const before = seen.filter((s) => s.size === 1 && s.provider === 'hook').length;
    expect(before).toBeGreaterThan(10);
    expect(seen.every((s) => (s.size === 1 && s.provider === 'hook') || (s.size === 2001 && s.provider === 'other'))).toBe(true);
  });

  it('leaves unchanged objects alone and logs Ready transitions after the swap', async () => {
    const lines: string[] = [];
    const logger = { info: (_: object, msg: string) => lines.push(msg), warn: (_: object, msg: string) => lines.push(msg), error: () => undefined, debug: () => undefined } as unknown as Logger;
    const store = newStore({ logger });
    const seen = changes(store);
    await store.replaceAllGradually([provider('hook'), alert('a')], []);
    expect(lines).toEqual(['Provider is ready', 'Alert is ready']);
    await store.replaceAllGradually([provider('hook'), alert('a')], []);
    expect(seen).toHaveLength(1);
    expect(lines).toHaveLength(2);
  });

  it('logs a load that makes many resources ready as one line per kind, and each one not ready on its own', async () => {
    const lines: Array<{ fields: Record<string, unknown>; msg: string }> = [];
    const record = (fields: Record<string, unknown>, msg: string) => lines.push({ fields, msg });
    const logger = { info: record, warn: record, error: () => undefined, debug: () => undefined } as unknown as Logger;
    const store = newStore({ logger });
    const many = Array.from({ length: 25 }, (_, i) => alert(`bulk-${i}`));
    await store.replaceAllGradually([provider('hook'), ...many, alert('lost', { providerRef: { name: 'missing' } })], []);
    expect(lines.map(({ msg }) => msg)).toEqual(['1 Provider is ready', '25 Alerts are ready', 'Alert is not ready']);
    expect(lines[1]?.fields).toEqual({ kind: 'Alert', count: 25 });
    expect(lines[2]?.fields).toMatchObject({ kind: 'Alert', resource: `${NS}/lost`, reason: 'ProviderNotFound' });
  });

  it('ends in the same state as replaceAll, snapshot after snapshot, reusing what did not change', async () => {
    const snapshots: StoredObject[][] = [
      [provider('hook', { secretRef: { name: 'creds' } }), secret('creds', { token: 't1' }), provider('other'), alert('a'), alert('b', { providerRef: { name: 'other' } }), labelled('kustomize.toolkit.fluxcd.io/v1', 'Kustomization', 'apps', { team: 'a' })],
      // The Secret changes, `other` goes (b loses its Provider), an Alert is added, labels change.
      [provider('hook', { secretRef: { name: 'creds' } }), secret('creds', { token: 't2' }), alert('a'), alert('b', { providerRef: { name: 'other' } }), alert('c', { inclusionList: ['(bad'] }), labelled('kustomize.toolkit.fluxcd.io/v1', 'Kustomization', 'apps', { team: 'b' })],
      // `other` is back, the Secret is gone (hook not ready), a is suspended.
      [provider('hook', { secretRef: { name: 'creds' } }), provider('other'), alert('a', { suspend: true }), alert('b', { providerRef: { name: 'other' } }), alert('c', { inclusionList: ['(bad'] })],
      [],
    ];
    const sync = newStore();
    const gradual = newStore();
    const syncChanges = changes(sync);
    const gradualChanges = changes(gradual);
    const view = (store: ResourceStore) => ({
      statuses: store.statuses().resources.map(({ ready: { lastTransitionTime: _t, ...ready }, ...rest }) => ({ ...rest, ready })),
      indexed: store.alerts.size,
      labels: store.labelsOf({ kind: 'Kustomization', name: 'apps', namespace: NS }),
      providers: ['hook', 'other'].map((name) => store.provider(NS, name)?.config?.token),
    });
    for (const snapshot of snapshots) {
      const hookBefore = gradual.provider(NS, 'hook');
      sync.replaceAll(snapshot, []);
      await gradual.replaceAllGradually(snapshot, [], 0);
      expect(view(gradual)).toEqual(view(sync));
      expect(await gradual.alerts.match(event(), () => undefined)).toEqual(await sync.alerts.match(event(), () => undefined));
      expect(gradualChanges.at(-1)).toEqual(syncChanges.at(-1));
      expect(gradualChanges).toHaveLength(syncChanges.length);
      if (hookBefore && gradual.provider(NS, 'hook')?.config?.token === hookBefore.config?.token) {
        expect(gradual.provider(NS, 'hook')?.configHash).toBe(hookBefore.configHash);
      }
    }
  });
});

describe('unknown manifest fields', () => {
  it('show as warnings in the status, ready or not, and are logged once per version', () => {
    const logged: Array<{ obj: unknown; msg: string }> = [];
    const logger: Logger = {
      info: (obj, msg) => logged.push({ obj, msg: msg ?? '' }),
      warn: (obj, msg) => logged.push({ obj, msg: msg ?? '' }),
      error: (obj, msg) => logged.push({ obj, msg: msg ?? '' }),
    };
    const store = newStore({ logger });
    const typo = (): Alert => ({ ...alert('a'), warnings: ['unknown field spec.exclusionlist is ignored (did you mean spec.exclusionList?)'] });
    store.replaceAll([provider('hook'), typo()], []);
    expect(statusOf(store, 'Alert', 'a')).toMatchObject({ ready: { status: 'True' }, warnings: typo().warnings });
    expect(statusOf(store, 'Provider', 'hook')?.warnings).toBeUndefined();
    const warningLines = () => logged.filter((l) => l.msg === 'Alert has fields Herald does not know; they are ignored');
    expect(warningLines()).toEqual([{ obj: { kind: 'Alert', resource: `${NS}/a`, warnings: typo().warnings }, msg: expect.any(String) }]);

    // The same manifest again, and a Provider change that re-evaluates the Alert: no new line.
    store.replaceAll([provider('hook'), typo()], []);
    store.replaceAll([provider('hook', { type: 'bogus' }), typo()], []);
    expect(warningLines()).toHaveLength(1);
    // Another unknown field: logged again.
    store.replaceAll([provider('hook'), { ...typo(), warnings: ['unknown field spec.summery is ignored'] }], []);
    expect(warningLines()).toHaveLength(2);
  });
});

describe('ResourceStore.readyCounts', () => {
  /** The counts as `statuses()` gives them, one resource at a time: what the store's running tally must equal. */
  function countedFromStatuses(store: ResourceStore): Record<string, number> {
    const counted: Record<string, number> = {};
    for (const { kind, ready } of store.statuses().resources) counted[`${kind}|${ready.status}`] = (counted[`${kind}|${ready.status}`] ?? 0) + 1;
    return counted;
  }
  function tallied(store: ResourceStore): Record<string, number> {
    return Object.fromEntries(store.readyCounts().map(({ kind, ready, count }) => [`${kind}|${ready}`, count]));
  }

  it('follows adds, updates that change readiness, Provider and Secret changes, and deletes', () => {
    const store = newStore();
    store.replaceAll([provider('hook', { secretRef: { name: 'creds' } }), alert('a'), alert('b'), alert('c', { providerRef: { name: 'nope' } })], []);
    // hook lacks its Secret: not ready, and neither are the Alerts naming it.
    expect(tallied(store)).toEqual({ 'Provider|False': 1, 'Alert|False': 3 });
    store.upsert(secret('creds', { address: 'https://hooks.example.com/y' }));
    expect(tallied(store)).toEqual({ 'Provider|True': 1, 'Alert|True': 2, 'Alert|False': 1 });
    store.upsert(alert('c'));
    expect(tallied(store)).toEqual({ 'Provider|True': 1, 'Alert|True': 3 });
    store.upsert(alert('b', { inclusionList: ['(bad'] }));
    expect(tallied(store)).toEqual({ 'Provider|True': 1, 'Alert|True': 2, 'Alert|False': 1 });
    store.remove('Alert', NS, 'b');
    store.remove('Provider', NS, 'hook');
    expect(tallied(store)).toEqual({ 'Alert|False': 2 });
    store.replaceAll([], []);
    expect(store.readyCounts()).toEqual([]);
  });

  it('equals a count of the statuses after any sequence of changes, applied one by one or as gradual snapshots', async () => {
    const candidates: StoredObject[] = [
      provider('hook'),
      provider('hook', { type: 'bogus' }),
      provider('other', { secretRef: { name: 'creds' } }),
      secret('creds', { token: 't' }),
      secret('creds', { token: '' }),
      alert('a'),
      alert('a', { providerRef: { name: 'other' } }),
      alert('b', { exclusionList: ['(bad'] }),
      alert('b', { suspend: true }),
      alert('c', { eventSources: [] }),
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ pick: fc.nat(candidates.length - 1), remove: fc.boolean(), snapshot: fc.boolean() }), { maxLength: 30 }),
        async (steps) => {
          const store = newStore();
          const held = new Map<string, StoredObject>();
          for (const { pick, remove, snapshot } of steps) {
            const object = candidates[pick] as StoredObject;
            const key = `${object.kind}/${object.metadata.name}`;
            if (remove) held.delete(key);
            else held.set(key, object);
            if (snapshot) await store.replaceAllGradually([...held.values()], [], 0);
            else if (remove) store.remove(object.kind, NS, object.metadata.name);
            else store.upsert(object);
            expect(tallied(store)).toEqual(countedFromStatuses(store));
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('sameContent', () => {
  /** The value's JSON with its keys sorted at every depth: two values are the same content when these are equal. */
  const canonical = (value: unknown): string =>
    JSON.stringify(value, (_key, v: unknown) =>
      v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
    );
  const reversedKeys = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(reversedKeys);
    if (value === null || typeof value !== 'object') return value;
    return Object.fromEntries(Object.entries(value).reverse().map(([k, v]) => [k, reversedKeys(v)]));
  };

  it('ignores key order and undefined fields, and sees every other difference', () => {
    expect(sameContent({ a: 1, b: { c: [1, 'x'] } }, { b: { c: [1, 'x'] }, a: 1 })).toBe(true);
    expect(sameContent({ a: 1, gone: undefined }, { a: 1 })).toBe(true);
    expect(sameContent({ a: 1 }, { a: 1, b: null })).toBe(false);
    expect(sameContent({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
    expect(sameContent({ a: '1' }, { a: 1 })).toBe(false);
    expect(sameContent({ a: {} }, { a: [] })).toBe(false);
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (a, b) => {
        expect(sameContent(a, reversedKeys(a))).toBe(true);
        expect(sameContent(a, b)).toBe(canonical(a) === canonical(b));
      }),
      { numRuns: 500 },
    );
  });
});
