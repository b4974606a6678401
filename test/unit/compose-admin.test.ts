/**
 * The local stack publishes the admin API (and console) on loopback only, binds it to every
 * address inside the container, and gives it the token Herald then requires: the compose
 * command and environment are loaded with the real flag parser, as the container would.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type Config } from '../../src/config.js';

const ROOT = join(import.meta.dirname, '..', '..');

interface Service {
  command: string[];
  environment: Record<string, string>;
  ports: string[];
}

/** Compose's `${VAR:-default}` with VAR unset. */
const interpolated = (value: string) => value.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1');

describe('docker-compose.yml admin port', () => {
  const herald = (parseYaml(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as { services: Record<string, Service> }).services.herald as Service;
  const env = Object.fromEntries(Object.entries(herald.environment).map(([k, v]) => [k, interpolated(v)]));

  it('publishes 9400 on loopback only, and the admin listener takes every address in the container with a token', () => {
    expect(herald.ports).toContain('127.0.0.1:9400:9400');
    expect(herald.ports.every((port) => port.startsWith('127.0.0.1:'))).toBe(true);
    const config = loadConfig(herald.command, env) as Config;
    expect(config.adminAddr).toEqual({ host: '0.0.0.0', port: 9400 });
    expect(config.adminToken).toBe('herald-dev-token');
    // Overridable, as the README says.
    expect((loadConfig(herald.command, { ...env, HERALD_ADMIN_TOKEN: 'mine' }) as Config).adminToken).toBe('mine');
  });

  it('would not start without the token: the rule the compose environment satisfies', () => {
    const { HERALD_ADMIN_TOKEN: _token, ...without } = env;
    expect(() => loadConfig(herald.command, without)).toThrow(ConfigError);
  });
});
