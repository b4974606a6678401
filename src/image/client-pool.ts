/**
 * Registry clients shared between reconciles: one per TLS and proxy configuration, so the
 * connection pool, the ping result and the token cache of a client outlive one scan. This is
 * what a `RepositoryEnvironment.client` factory should hand out. Bounded: beyond `maxClients`
 * configurations the least recently used client is closed.
 */
import { createHash } from 'node:crypto';
import { createRegistryClient, type RegistryClient, type RegistryClientOptions } from './registry.js';
import type { RegistryProxy, RegistryTls } from './registry-auth.js';

export interface ClientPool {
  client(config: { tls?: RegistryTls; proxy?: RegistryProxy }): RegistryClient;
  readonly size: number;
  close(): Promise<void>;
}

export function createClientPool(options: Omit<RegistryClientOptions, 'tls' | 'proxy'> = {}, maxClients = 100): ClientPool {
  const clients = new Map<string, RegistryClient>();
  const closing: Promise<void>[] = [];
  return {
    client(config) {
      // Keyed by a hash: the key never holds the proxy password or the client key in clear.
      const key = createHash('sha256').update(JSON.stringify([config.tls ?? null, config.proxy ?? null])).digest('hex');
      let client = clients.get(key);
      if (client) {
        clients.delete(key);
      } else {
        client = createRegistryClient({ ...options, tls: config.tls, proxy: config.proxy });
      }
      clients.set(key, client);
      while (clients.size > maxClients) {
        const [oldestKey, oldest] = clients.entries().next().value as [string, RegistryClient];
        clients.delete(oldestKey);
        closing.push(oldest.close());
      }
      return client;
    },
    get size() {
      return clients.size;
    },
    async close() {
      const all = [...clients.values()];
      clients.clear();
      await Promise.all([...closing.splice(0), ...all.map((c) => c.close())]);
    },
  };
}
