/**
 * Maps a Provider's `spec.type` to its adapter. Adding a provider is adding its module and
 * one line here.
 */
import { generic, genericHmac } from './generic.js';
import type { ProviderAdapter } from './types.js';

const adapters: readonly ProviderAdapter[] = [generic, genericHmac];

const byType = new Map(adapters.map((a) => [a.type, a]));

export function adapterFor(type: string): ProviderAdapter | undefined {
  return byType.get(type);
}

export function supportedTypes(): string[] {
  return [...byType.keys()].sort();
}
