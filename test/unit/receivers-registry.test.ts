/**
 * ReceiverRegistry over the real resource store: Receivers loaded from manifests are validated,
 * their Secret resolved, served by webhook path, and shown in the store's statuses.
 */
import { describe, expect, it } from 'vitest';
import { ReceiverRegistry, webhookPath } from '../../src/receivers/index.js';
import { goDuration } from '../../src/receivers/registry.js';
import { parseManifests } from '../../src/resources/manifests.js';
import { ResourceStore } from '../../src/resources/store.js';

const TOKEN = 'registry-token';

function receiver(name: string, extra = '', apiVersion = 'notification.toolkit.fluxcd.io/v1'): string {
  return `apiVersion: ${apiVersion}
kind: Receiver
metadata:
  name: ${name}
  namespace: apps
spec:
  type: github
  secretRef:
    name: token
  resources:
    - kind: GitRepository
      name: webapp
${extra}`;
}

const tokenSecret = (token: string) => `apiVersion: v1\nkind: Secret\nmetadata:\n  name: token\n  namespace: apps\nstringData:\n  token: ${token}\n`;

function load(store: ResourceStore, ...docs: string[]) {
  const parsed = parseManifests(docs.join('---\n'), 'test.yaml');
  store.replaceAll(parsed.objects, parsed.problems);
  return parsed;
}

describe('ReceiverRegistry', () => {
  it('serves a Ready Receiver at its webhook path, with its Secret, and shows it in the store statuses', () => {
    const store = new ResourceStore();
    const registry = new ReceiverRegistry(store);
    store.addStatusSource(() => registry.statuses());
    load(store, receiver('web'), tokenSecret(TOKEN));
    const path = webhookPath(TOKEN, 'web', 'apps');
    const entry = registry.byWebhookPath(path);
    expect(entry).toMatchObject({ ready: true, secret: { token: TOKEN }, receiver: { metadata: { name: 'web', namespace: 'apps' } } });
    const status = store.statuses().resources.find((r) => r.kind === 'Receiver');
    expect(status).toMatchObject({ name: 'web', ready: { status: 'True', reason: 'Succeeded' }, webhookPath: path });
    expect(status?.lastRequestAt).toBeUndefined();
    registry.noteRequest(entry!.receiver);
    expect(registry.statuses()[0]?.lastRequestAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(JSON.stringify(store.statuses())).not.toContain(TOKEN);
  });

  it('follows the Secret: a missing token clears the path, a new token moves it', () => {
    const store = new ResourceStore();
    const registry = new ReceiverRegistry(store);
    const changes: string[][] = [];
    registry.onChange((keys) => changes.push(keys));
    load(store, receiver('web'));
    expect(registry.statuses()[0]).toMatchObject({ ready: { status: 'False', reason: 'TokenNotFound' }, webhookPath: '' });
    load(store, receiver('web'), tokenSecret('one'));
    expect(registry.byWebhookPath(webhookPath('one', 'web', 'apps'))?.ready).toBe(true);
    load(store, receiver('web'), tokenSecret('two'));
    expect(registry.byWebhookPath(webhookPath('one', 'web', 'apps'))).toBeUndefined();
    expect(registry.byWebhookPath(webhookPath('two', 'web', 'apps'))?.ready).toBe(true);
    load(store);
    expect(registry.statuses()).toEqual([]);
    expect(changes).toEqual([['apps/web'], ['apps/web'], ['apps/web'], ['apps/web']]);
  });

  it('keeps the last path of a Receiver whose spec turns invalid (its requests get 503), as Flux does', () => {
    const store = new ResourceStore();
    const registry = new ReceiverRegistry(store);
    load(store, receiver('web'), tokenSecret(TOKEN));
    load(store, receiver('web', '  resourceFilter: "res.metadata.name =="\n'), tokenSecret(TOKEN));
    const path = webhookPath(TOKEN, 'web', 'apps');
    expect(registry.statuses()[0]).toMatchObject({ ready: { status: 'False', reason: 'InvalidCELExpression' }, webhookPath: path });
    expect(registry.byWebhookPath(path)?.ready).toBe(false);
  });

  it('after a restart, a Receiver with a configuration error keeps the path it carries in the API (Kubernetes mode)', () => {
    const store = new ResourceStore();
    const reported = webhookPath(TOKEN, 'web', 'apps');
    const registry = new ReceiverRegistry(store, { reportedWebhookPath: (namespace, name) => (`${namespace}/${name}` === 'apps/web' ? reported : undefined) });
    load(store, receiver('web', '  resourceFilter: "res.metadata.name =="\n'), tokenSecret(TOKEN));
    expect(registry.statuses()[0]).toMatchObject({ ready: { reason: 'InvalidCELExpression' }, webhookPath: reported });
    expect(registry.byWebhookPath(reported)?.ready).toBe(false);
    // Once evaluated, its own state wins over what the API says: a missing token clears the path.
    load(store, receiver('web'));
    expect(registry.statuses()[0]).toMatchObject({ ready: { reason: 'TokenNotFound' }, webhookPath: '' });
  });

  it('loads v1beta2 Receivers; refuses other versions as a manifest problem', () => {
    const store = new ResourceStore();
    const registry = new ReceiverRegistry(store);
    const parsed = load(store, receiver('old', '', 'notification.toolkit.fluxcd.io/v1beta2'), receiver('older', '', 'notification.toolkit.fluxcd.io/v1beta1'), tokenSecret(TOKEN));
    expect(registry.statuses().map((s) => [s.name, s.ready.status])).toEqual([['old', 'True']]);
    expect(parsed.problems.map((p) => p.message)).toEqual([expect.stringMatching(/Receiver apps\/older: apiVersion notification.toolkit.fluxcd.io\/v1beta1 is not supported/)]);
  });
});

describe('ReceiverRegistry Events (as Flux records them on Receivers)', () => {
  type Recorded = { kind: string; name: string; type: string; reason: string; message: string };
  function recording() {
    const recorded: Recorded[] = [];
    const events = { record: (ref: { kind: string; name: string }, type: string, reason: string, message: string) => recorded.push({ kind: ref.kind, name: ref.name, type, reason, message }) };
    return { recorded, events };
  }

  it('Normal Succeeded with the interval as Go writes it when Ready, once per change, not on every store change', () => {
    const store = new ResourceStore();
    const { recorded, events } = recording();
    new ReceiverRegistry(store, { events });
    load(store, receiver('web'), receiver('hourly', '  interval: 1h30m\n'), tokenSecret(TOKEN));
    expect(recorded).toEqual([
      { kind: 'Receiver', name: 'web', type: 'Normal', reason: 'Succeeded', message: 'Reconciliation finished, next run in 10m0s' },
      { kind: 'Receiver', name: 'hourly', type: 'Normal', reason: 'Succeeded', message: 'Reconciliation finished, next run in 1h30m0s' },
    ]);
    // The same objects again (a store change elsewhere): nothing new to say.
    load(store, receiver('web'), receiver('hourly', '  interval: 1h30m\n'), tokenSecret(TOKEN));
    expect(recorded).toHaveLength(2);
  });

  it("Warning Failed with Flux's message when the token cannot be read, then Succeeded once it can", () => {
    const store = new ResourceStore();
    const { recorded, events } = recording();
    new ReceiverRegistry(store, { events });
    load(store, receiver('web'));
    load(store, receiver('web'), tokenSecret(TOKEN));
    expect(recorded.map((r) => [r.type, r.reason, r.message])).toEqual([
      ['Warning', 'Failed', `unable to read token from secret 'apps/token' error: secrets "token" not found`],
      ['Normal', 'Succeeded', 'Reconciliation finished, next run in 10m0s'],
    ]);
  });

  it('Warning with the condition reason for a configuration error (terminal, as Flux says)', () => {
    const store = new ResourceStore();
    const { recorded, events } = recording();
    new ReceiverRegistry(store, { events });
    load(store, receiver('web', '  resourceFilter: "res.metadata.name =="\n'), tokenSecret(TOKEN));
    expect(recorded).toHaveLength(1);
    expect(recorded[0]).toMatchObject({ type: 'Warning', reason: 'InvalidCELExpression' });
    expect(recorded[0]?.message).toMatch(/^Reconciliation failed terminally due to configuration error: invalid spec.resourceFilter expression: /);
  });
});

describe('goDuration', () => {
  it("writes durations as Go's time.Duration.String() does", () => {
    const cases: Array<[string, string]> = [['10m', '10m0s'], ['1h', '1h0m0s'], ['1h30m', '1h30m0s'], ['90s', '1m30s'], ['45s', '45s'], ['1.5s', '1.5s'], ['500ms', '500ms'], ['2h0m5s', '2h0m5s'], ['1.5h', '1h30m0s']];
    for (const [input, go] of cases) expect(goDuration(input), input).toBe(go);
  });
});
