import { describe, expect, it } from 'vitest';
import { webex } from '../../providers/webex.js';
import { problemOf, deliver, goJson, REVISION, TRICKY_MESSAGE, trickyEvent, useSink } from '../support/adapter-harness.js';
import { kustomizationEvent } from '../support/events.js';
import { testProviderConfig } from '../support/provider-config.js';

const sink = useSink();

describe('webex', () => {
  it('posts markdown to the room with the bot token as a Bearer header', async () => {
    const config = testProviderConfig({ type: 'webex', address: `${sink().url}/v1/messages`, channel: 'Y2lzY29zcGFyazovL3Vz', token: 'webex-bot-token' });
    const [req, ...more] = await deliver(webex, config, trickyEvent());
    expect(more).toHaveLength(0);
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe('/v1/messages');
    expect(req?.headers['content-type']).toBe('application/json');
    expect(req?.headers.authorization).toBe('Bearer webex-bot-token');
    expect(req?.body).toBe(
      goJson({
        roomId: 'Y2lzY29zcGFyazovL3Vz',
        markdown:
          `💣 **kustomization/apps.flux-system**\n${TRICKY_MESSAGE}\n` +
          '>**env**: prod\nblue_green\n' +
          '>**owner.team**: Équipe (ops) #1\n' +
          `>**revision**: ${REVISION}\n` +
          '>**summary**: Cluster "prod-eu" *critical*\n',
      }),
    );
  });

  it('uses ✅ for info events', async () => {
    const config = testProviderConfig({ type: 'webex', address: `${sink().url}/v1/messages`, channel: 'room', token: 'webex-bot-token' });
    const [req] = await deliver(webex, config, kustomizationEvent({ metadata: {} }));
    expect(JSON.parse(req?.body ?? '').markdown).toBe('✅ **kustomization/apps.flux-system**\nReconciliation finished in 1.2s, next run in 10m0s\n');
  });

  it('requires the room (spec.channel) and the token', () => {
    expect(problemOf(webex, testProviderConfig({ type: 'webex', address: 'https://webexapis.com/v1/messages', token: 'tok1' }))).toMatch(/spec\.channel/);
    expect(problemOf(webex, testProviderConfig({ type: 'webex', address: 'https://webexapis.com/v1/messages', channel: 'room' }))).toMatch(/`token`/);
    expect(problemOf(webex, testProviderConfig({ type: 'webex', address: 'https://webexapis.com/v1/messages', channel: 'room', token: 'tok1' }))).toBeUndefined();
  });
});
