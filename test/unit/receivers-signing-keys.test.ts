import { describe, expect, it } from 'vitest';
import { IdTokenError, remoteSigningKeys } from '../../src/receivers/index.js';
import { testIssuer } from '../support/receivers.js';

const issuer = testIssuer('kid-1');

/** A fetch that answers the JWKS after a tick and counts its calls. */
function fakeFetch(body: () => string) {
  const calls: string[] = [];
  const impl = (async (url: string) => {
    calls.push(url);
    await new Promise((resolve) => setTimeout(resolve, 5));
    return new Response(body(), { status: 200, headers: { 'content-type': 'application/json' } });
  }) as unknown as typeof fetch;
  return { impl, calls };
}

describe('remoteSigningKeys', () => {
  it('lets requests that arrive during the first fetch wait for it, with one fetch', async () => {
    const { impl, calls } = fakeFetch(() => JSON.stringify(issuer.jwks));
    const keys = remoteSigningKeys('https://issuer.example/jwks', impl, () => 0);
    const found = await Promise.all([keys.keyFor('kid-1'), keys.keyFor('kid-1'), keys.keyFor('kid-1')]);
    expect(found.every((k) => k !== undefined)).toBe(true);
    expect(calls).toHaveLength(1);
  });

  it('fetches again for an unknown kid at most once a minute', async () => {
    let now = 0;
    const { impl, calls } = fakeFetch(() => JSON.stringify(issuer.jwks));
    const keys = remoteSigningKeys('https://issuer.example/jwks', impl, () => now);
    expect(await keys.keyFor('kid-1')).toBeDefined();
    for (let i = 0; i < 5; i++) expect(await keys.keyFor(`forged-${i}`)).toBeUndefined();
    expect(calls).toHaveLength(1);
    now += 61_000;
    expect(await keys.keyFor('forged-again')).toBeUndefined();
    expect(calls).toHaveLength(2);
  });

  it('refuses a key set larger than 1 MiB without keeping it', async () => {
    const { impl } = fakeFetch(() => JSON.stringify({ keys: [], padding: 'x'.repeat(1024 * 1024) }));
    await expect(remoteSigningKeys('https://issuer.example/jwks', impl, () => 0).keyFor('kid-1')).rejects.toThrow(IdTokenError);
  });
});
