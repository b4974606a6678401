import { describe, expect, it } from 'vitest';
import { createLogger, masked } from '../../src/observability/logger.js';

function capture() {
  const lines: string[] = [];
  const logger = createLogger('info', { write: (line: string) => void lines.push(line) });
  return { logger, lines: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>), text: () => lines.join('') };
}

describe('masked', () => {
  it('masks the secret keys at the top level and one level down, and leaves the rest and its input alone', () => {
    const input = { token: 't0k3n', provider: { name: 'hook', password: 'pw' }, list: [{ secret: 's' }], alert: 'flux-system/a', attempt: 2 };
    const out = masked(input);
    expect(out).toEqual({ token: '*****', provider: { name: 'hook', password: '*****' }, list: [{ secret: 's' }], alert: 'flux-system/a', attempt: 2 });
    expect(input.token).toBe('t0k3n');
    expect(input.provider.password).toBe('pw');
  });

  it('returns the object itself when there is nothing to mask (the per-delivery line allocates nothing here)', () => {
    const line = { job: 'j1', alert: 'flux-system/a', provider: 'flux-system/p', type: 'generic', attempt: 1, outcome: 'delivered', ms: 3 };
    expect(masked(line)).toBe(line);
  });

  it('masks read-only and accessor properties without throwing', () => {
    const frozen = Object.freeze({ headers: { authorization: 'Bearer abc' }, url: 'https://x' });
    const withGetter = Object.defineProperty({}, 'secret', { get: () => 'hidden', enumerable: true });
    expect(masked({ req: frozen, other: withGetter })).toEqual({ req: { headers: '*****', url: 'https://x' }, other: { secret: '*****' } });
  });
});

describe('createLogger', () => {
  it('writes no secret from a line, its child bindings or an error, and keeps the error readable', () => {
    const { logger, lines, text } = capture();
    const err = Object.assign(new Error('request failed'), { config: { headers: { authorization: 'Bearer leaked-1' } } });
    logger.child({ token: 'leaked-2', provider: 'flux-system/hook' }).error({ err, req: { headers: { cookie: 'leaked-3' } } }, 'delivery failed');
    logger.info({ config: { token: 'leaked-4' }, alert: 'flux-system/a' }, 'configured');
    logger.child({ target: { token: 'leaked-5', name: 'hook' } }).child({ secret: 'leaked-6' }).warn('grandchild');
    expect(text()).not.toMatch(/leaked-/);
    const [failed, configured, grandchild] = lines();
    expect(grandchild).toMatchObject({ target: { token: '*****', name: 'hook' }, secret: '*****', msg: 'grandchild' });
    expect(failed).toMatchObject({ level: 'error', provider: 'flux-system/hook', token: '*****', req: { headers: '*****' }, msg: 'delivery failed' });
    expect(failed?.err).toMatchObject({ type: 'Error', message: 'request failed', config: '*****' });
    expect(String((failed?.err as { stack?: string }).stack)).toContain('request failed');
    expect(configured).toMatchObject({ config: '*****', alert: 'flux-system/a', msg: 'configured' });
  });
});
