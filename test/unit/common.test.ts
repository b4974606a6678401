import { describe, expect, it } from 'vitest';
import { errorMessage } from '../../src/common/errors.js';
import { rfc3339Seconds, withTimeout } from '../../src/common/time.js';
import { objectKey, parseObjectKey } from '../../src/api/types.js';

describe('the helpers every layer shares', () => {
  it('rfc3339Seconds cuts milliseconds as Go truncates, in UTC', () => {
    expect(rfc3339Seconds(Date.parse('2026-01-02T03:04:05.999+02:00'))).toBe('2026-01-02T01:04:05Z');
  });

  it('withTimeout rejects naming what took too long, and passes a value through', async () => {
    await expect(withTimeout(new Promise(() => undefined), 20, 'counting jobs')).rejects.toThrow('counting jobs took longer than 20ms');
    await expect(withTimeout(Promise.resolve(7), 1_000, 'x')).resolves.toBe(7);
  });

  it('errorMessage reads an Error or stringifies anything else', () => {
    expect(errorMessage(new Error('boom'))).toBe('boom');
    expect(errorMessage(42)).toBe('42');
  });

  it('parseObjectKey undoes objectKey', () => {
    expect(parseObjectKey(objectKey({ namespace: 'flux-system', name: 'slack' }))).toEqual(['flux-system', 'slack']);
    expect(parseObjectKey('no-namespace')).toEqual(['', 'no-namespace']);
  });
});
