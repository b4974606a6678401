import { describe, expect, it, vi } from 'vitest';
import type { Provider, Secret } from '../../src/api/types.js';
import { HttpClients } from '../../src/delivery/http-clients.js';
import { ResourceStore } from '../../src/resources/store.js';

const NS = 'flux-system';
const KEY = `${NS}/hook`;

function provider(name: string): Provider {
  return {
    apiVersion: 'notification.toolkit.fluxcd.io/v1beta3',
    kind: 'Provider',
    metadata: { name, namespace: NS },
    spec: { type: 'generic', address: 'https://hooks.example.com/x', secretRef: { name: 's' } },
  };
}

function secret(name: string, token: string): Secret {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: NS }, data: { token } };
}

/** A cache over a store, with fake clients that record whether they were closed. */
function setUp() {
  const store = new ResourceStore();
  const built: Array<{ token?: string; closed: boolean }> = [];
  const clients = new HttpClients(store, (config) => {
    const record = { token: config.token, closed: false };
    built.push(record);
    return { send: vi.fn(), mask: (text: string) => text, close: async () => void (record.closed = true) };
  });
  const current = () => {
    const resolved = store.provider(NS, 'hook');
    if (!resolved) throw new Error('no Provider');
    return resolved;
  };
  return { store, clients, built, current };
}

describe('HttpClients', () => {
  it('builds one client per resolved configuration and keeps it while the configuration stays', () => {
    const { store, clients, built, current } = setUp();
    store.replaceAll([provider('hook'), secret('s', 'one')], []);
    const first = clients.clientFor(KEY, current());
    expect(first).toBeDefined();
    expect(clients.clientFor(KEY, current())).toBe(first);
    store.upsert(secret('unrelated', 'x'));
    expect(clients.clientFor(KEY, current())).toBe(first);
    expect(built).toEqual([{ token: 'one', closed: false }]);
  });

  it('closes the client when the Provider is resolved to another configuration, and builds the next on demand', async () => {
    const { store, clients, built, current } = setUp();
    store.replaceAll([provider('hook'), secret('s', 'one')], []);
    const first = clients.clientFor(KEY, current());
    store.upsert(secret('s', 'two'));
    await Promise.resolve();
    expect(built[0]).toEqual({ token: 'one', closed: true });
    expect(clients.isCurrent(KEY, first!)).toBe(false);
    const second = clients.clientFor(KEY, current());
    expect(second).not.toBe(first);
    expect(clients.isCurrent(KEY, second!)).toBe(true);
    expect(built[1]).toEqual({ token: 'two', closed: false });
  });

  it('closes the client of a deleted Provider, also when a snapshot is swapped in gradually', async () => {
    const { store, clients, built, current } = setUp();
    store.replaceAll([provider('hook'), secret('s', 'one')], []);
    clients.clientFor(KEY, current());
    await store.replaceAllGradually([secret('s', 'one')], [], 0);
    expect(built).toEqual([{ token: 'one', closed: true }]);
  });

  it('gives no client for a Provider resolved before its latest change, so none is built for an outdated configuration', () => {
    const { store, clients, built, current } = setUp();
    store.replaceAll([provider('hook'), secret('s', 'one')], []);
    const outdated = current();
    store.upsert(secret('s', 'two'));
    expect(clients.clientFor(KEY, outdated)).toBeUndefined();
    expect(built).toEqual([]);
  });

  it('reports a client that cannot be set up without the secret values', () => {
    const store = new ResourceStore();
    const clients = new HttpClients(store, () => {
      throw new Error('bad proxy http://user:s3cret-value@proxy');
    });
    store.replaceAll([provider('hook'), secret('s', 's3cret-value')], []);
    const resolved = store.provider(NS, 'hook')!;
    expect(() => clients.clientFor(KEY, resolved)).toThrow('cannot set up the HTTP client: Error: bad proxy http://');
    expect(() => clients.clientFor(KEY, resolved)).not.toThrow('s3cret-value');
  });

  it('closes every client and stops following the store when closed', async () => {
    const { store, clients, built, current } = setUp();
    store.replaceAll([provider('hook'), secret('s', 'one')], []);
    clients.clientFor(KEY, current());
    await clients.close();
    expect(built).toEqual([{ token: 'one', closed: true }]);
    expect(store.listenerCount('changed')).toBe(0);
  });
});
