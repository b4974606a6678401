import { describe, expect, it } from 'vitest';
import { formEncode, markdownPost, zulip, zulipMessagesUrl } from '../../providers/zulip.js';
import { problemOf, deliver, REVISION, TRICKY_MESSAGE, trickyEvent, useSink } from '../support/adapter-harness.js';
import { kustomizationEvent } from '../support/events.js';
import { testProviderConfig } from '../support/provider-config.js';

const sink = useSink();

describe('zulip', () => {
  it('posts a form-encoded stream message with Basic auth to /api/v1/messages', async () => {
    const config = testProviderConfig({
      type: 'zulip',
      address: `${sink().url}/some/where`,
      channel: 'ops/flux alerts',
      username: 'flux-bot@example.zulipchat.com',
      password: 'zulip-api-key',
    });
    const [req, ...more] = await deliver(zulip, config, trickyEvent());
    expect(more).toHaveLength(0);
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe('/api/v1/messages');
    expect(req?.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(req?.headers.authorization).toBe(`Basic ${Buffer.from('flux-bot@example.zulipchat.com:zulip-api-key').toString('base64')}`);
    const content =
      '## Flux Status\n\n⚠️ Kustomization/flux-system/apps\n\n' +
      `${TRICKY_MESSAGE}\n\nMetadata:\n` +
      '* `env`: prod\nblue_green\n' +
      '* `owner.team`: Équipe (ops) #1\n' +
      `* \`revision\`: ${REVISION}\n` +
      '* `summary`: Cluster "prod-eu" *critical*\n';
    const form = new URLSearchParams(req?.body ?? '');
    expect([...form.keys()]).toEqual(['content', 'to', 'topic', 'type']);
    expect(Object.fromEntries(form)).toEqual({ content, to: 'ops', topic: 'flux alerts', type: 'stream' });
    // Go's url.QueryEscape: space as '+', '*' '(' ')' '!' and "'" percent-encoded, '~' kept.
    expect(req?.body).toContain('&to=ops&topic=flux+alerts&type=stream');
    expect(req?.body).toContain('%2Acritical%2A');
    expect(req?.body).toContain('%28ops%29');
  });

  it('formats content exactly as Flux\'s test expects', () => {
    const event = kustomizationEvent({
      severity: 'info',
      message: 'Test event message',
      involvedObject: { kind: 'Kustomization', name: 'test-ks', namespace: 'default' },
      metadata: { key2: 'value2', key1: 'value1', change_request: '42' },
    });
    expect(markdownPost(event)).toBe('## Flux Status\n\nℹ️ Kustomization/default/test-ks\n\nTest event message\n\nMetadata:\n* `key1`: value1\n* `key2`: value2\n');
  });

  it('encodes forms like Go and replaces the address path', () => {
    expect(formEncode({ b: 'a b~c*', a: "it's (x)!" })).toBe('a=it%27s+%28x%29%21&b=a+b~c%2A');
    expect(zulipMessagesUrl('https://my-org.zulipchat.com/')).toBe('https://my-org.zulipchat.com/api/v1/messages');
  });

  it('requires spec.channel as <channel>/<topic>', () => {
    const base = { type: 'zulip', address: 'https://my-org.zulipchat.com' } as const;
    expect(problemOf(zulip, testProviderConfig({ ...base, channel: 'general' }))).toMatch(/spec\.channel.*<channel>\/<topic>/);
    expect(problemOf(zulip, testProviderConfig({ ...base, channel: 'general/' }))).toBeDefined();
    expect(problemOf(zulip, testProviderConfig({ ...base, channel: '/topic' }))).toBeDefined();
    expect(problemOf(zulip, testProviderConfig({ ...base, channel: 'general/a/b' }))).toBeUndefined();
  });
});
