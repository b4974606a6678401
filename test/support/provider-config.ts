/** Builds a resolved ProviderConfig for adapter tests, without going through the store. */
import type { ProviderConfig } from '../../providers/types.js';

export function testProviderConfig(overrides: Partial<ProviderConfig> & Pick<ProviderConfig, 'type'>): ProviderConfig {
  const base: ProviderConfig = {
    name: 'test-provider',
    namespace: 'flux-system',
    uid: '0c9c2e41-d2f9-4f9b-9c41-2e0a8e1a6c11',
    type: overrides.type,
    address: '',
    channel: '',
    username: '',
    headers: {},
    timeoutMs: 5_000,
    secret: {},
    spec: { type: overrides.type },
    sensitiveValues: [],
  };
  const config = { ...base, ...overrides };
  config.sensitiveValues = [
    ...config.sensitiveValues,
    ...[config.token, config.password].filter((v): v is string => Boolean(v)),
  ];
  return config;
}
