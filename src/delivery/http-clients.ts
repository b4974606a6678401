/**
 * The HTTP client of each Provider (its connection pool, proxy, TLS and masking), built on the
 * first delivery of a resolved configuration and kept for as long as that configuration is the
 * Provider's. The store says when a Provider was resolved again: a client whose configuration
 * is no longer current (Secret rotated, spec edited, Provider deleted) is dropped and closed;
 * undici lets the requests already under way on it finish, new ones fail with "client is
 * closed", which the worker recognises (`isCurrent`) and retries with the new configuration.
 *
 * Bound: one client per Provider that has delivered since its last change.
 */
import type { HttpClient } from '../../providers/contract.js';
import { createHttpClient, createMasker } from '../../providers/http.js';
import type { ProviderConfig } from '../../providers/types.js';
import type { ResolvedProvider, ResourceStore, StoreChange } from '../resources/store.js';

type ClosableClient = HttpClient & { close(): Promise<void> };

interface Entry {
  configHash: string;
  client: ClosableClient;
}

export class HttpClients {
  private readonly entries = new Map<string, Entry>();
  private readonly onChange = (change: StoreChange) => this.dropReplaced(change.providers);

  constructor(
    private readonly store: ResourceStore,
    private readonly create: (config: ProviderConfig) => ClosableClient = createHttpClient,
  ) {
    store.on('changed', this.onChange);
  }

  /**
   * The client for `provider` (resolved from the store under `key`, `namespace/name`), or
   * undefined when the store has resolved that Provider again since: the caller holds an
   * outdated configuration. Throws when the client cannot be set up.
   */
  clientFor(key: string, provider: ResolvedProvider): HttpClient | undefined {
    const { config, configHash } = provider;
    if (!config || configHash === undefined || this.currentHash(key) !== configHash) return undefined;
    const entry = this.entries.get(key);
    if (entry?.configHash === configHash) return entry.client;
    let client: ClosableClient;
    try {
      client = this.create(config);
    } catch (err) {
      // The store checked the proxy URL and TLS material already; this is not expected.
      throw new Error(createMasker(config.sensitiveValues)(`cannot set up the HTTP client: ${String(err)}`));
    }
    this.entries.set(key, { configHash, client });
    return client;
  }

  /** False once the Provider under `key` moved to another configuration (or went) and `client` was closed. */
  isCurrent(key: string, client: HttpClient): boolean {
    return this.entries.get(key)?.client === client;
  }

  /** Stops listening to the store and closes every client (at shutdown). */
  async close(): Promise<void> {
    this.store.off('changed', this.onChange);
    const clients = [...this.entries.values()].map((entry) => entry.client);
    this.entries.clear();
    await Promise.allSettled(clients.map((client) => client.close()));
  }

  private currentHash(key: string): string | undefined {
    const slash = key.indexOf('/');
    return this.store.provider(key.slice(0, slash), key.slice(slash + 1))?.configHash;
  }

  private dropReplaced(providerKeys: readonly string[]): void {
    for (const key of providerKeys) {
      const entry = this.entries.get(key);
      if (!entry || entry.configHash === this.currentHash(key)) continue;
      this.entries.delete(key);
      entry.client.close().catch(() => undefined);
    }
  }
}
