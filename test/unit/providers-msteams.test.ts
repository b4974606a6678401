import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import type { FluxEvent } from '../../src/events/event.js';
import { adaptiveCardContent, isLegacyTeamsConnector, msteams } from '../../providers/msteams.js';
import type { ProviderConfig } from '../../providers/types.js';
import { deliver, failureOf, REVISION, trickyEvent as tricky, useSink, addressProblem } from '../support/adapter-harness.js';
import { kustomizationEvent } from '../support/events.js';
import { testProviderConfig } from '../support/provider-config.js';
import { startTunnelTo } from '../support/tunnel.js';

/**
 * The official Adaptive Cards library parses a card and reports unknown element types, invalid
 * property values and failed validations; its UMD bundle works in Node without a DOM (the
 * package's ESM `lib/` does not load in Node, hence the require of the bundle).
 */
interface AdaptiveCardsModule {
  AdaptiveCard: new () => {
    parse(json: unknown, context: unknown): void;
    validateProperties(): { validationEvents: Array<{ message: string }> };
  };
  SerializationContext: new () => { eventCount: number; getEventAt(i: number): { message: string } };
}
const AdaptiveCards = createRequire(import.meta.url)('adaptivecards/dist/adaptivecards.js') as AdaptiveCardsModule;

function adaptiveCardProblems(card: unknown): string[] {
  const parsed = new AdaptiveCards.AdaptiveCard();
  const context = new AdaptiveCards.SerializationContext();
  parsed.parse(card, context);
  const problems: string[] = [];
  for (let i = 0; i < context.eventCount; i++) problems.push(context.getEventAt(i).message);
  for (const event of parsed.validateProperties().validationEvents) problems.push(event.message);
  return problems;
}

const MESSAGE = '**Health check failed** for `apps`:\n> Deployment "web" in \'default\' — état <dégradé> & 日本語 ✅';

/** The tricky event with the message and metadata the golden cards spell out. */
const trickyEvent = (overrides: Partial<FluxEvent> = {}) =>
  tricky({
    message: MESSAGE,
    metadata: { revision: REVISION, summary: 'Cluster "prod-eu" — *région* Zürich\nsecond line', 'app.kubernetes.io/name': 'web' },
    ...overrides,
  });

const sink = useSink({ status: 202, body: '' });

const send = (event: FluxEvent, cfg: ProviderConfig) => deliver(msteams, cfg, event);

const startTunnelToSink = () => startTunnelTo(sink().port);

const expectedCard = {
  type: 'message',
  attachments: [
    {
      contentType: 'application/vnd.microsoft.card.adaptive',
      content: {
        $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
        type: 'AdaptiveCard',
        version: '1.4',
        body: [
          {
            type: 'Container',
            items: [
              { type: 'TextBlock', text: 'kustomization/apps.flux-system', size: 'large', weight: 'bolder', wrap: true },
              { type: 'TextBlock', text: MESSAGE, color: 'attention', wrap: true },
              {
                type: 'FactSet',
                facts: [
                  { title: 'summary', value: 'Cluster "prod-eu" — *région* Zürich\nsecond line' },
                  { title: 'app.kubernetes.io/name', value: 'web' },
                  { title: 'revision', value: 'main@sha1:6f1d5e3c8a2b4f7e9d0c1b2a3f4e5d6c7b8a9f0e' },
                ],
              },
            ],
          },
        ],
        msteams: { width: 'Full' },
      },
    },
  ],
};

describe('msteams adapter: Adaptive Card (Teams Workflows)', () => {
  it('posts the card Flux posts', async () => {
    const cfg = testProviderConfig({ type: 'msteams', address: `${sink().url}/workflows/abc/triggers/manual/paths/invoke?sig=x` });
    await send(trickyEvent(), cfg);

    expect(sink().requests).toHaveLength(1);
    const req = sink().requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/workflows/abc/triggers/manual/paths/invoke?sig=x');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.body).toBe(JSON.stringify(expectedCard));
  });

  it('produces a card the Adaptive Cards library accepts', () => {
    expect(adaptiveCardProblems(adaptiveCardContent(trickyEvent()))).toEqual([]);
    expect(adaptiveCardProblems(adaptiveCardContent(kustomizationEvent({ metadata: {}, message: '' })))).toEqual([]);
    // The check has teeth: a wrong enum value is reported.
    const broken = adaptiveCardContent(trickyEvent()) as { body: Array<{ items: Array<Record<string, unknown>> }> };
    broken.body[0]!.items[0]!['size'] = 'huge';
    expect(adaptiveCardProblems(broken)).not.toEqual([]);
  });

  it('leaves out what Go omits when empty: message text and facts', async () => {
    const cfg = testProviderConfig({ type: 'msteams', address: `${sink().url}/hook` });
    await send(kustomizationEvent({ severity: 'info', message: '', metadata: {} }), cfg);
    const card = JSON.parse(sink().requests[0]!.body) as typeof expectedCard;
    expect(card.attachments[0]!.content.body[0]!.items).toEqual([
      { type: 'TextBlock', text: 'kustomization/apps.flux-system', size: 'large', weight: 'bolder', wrap: true },
      { type: 'TextBlock', wrap: true },
      { type: 'FactSet' },
    ]);
  });

  it('skips commit status update events', async () => {
    const cfg = testProviderConfig({ type: 'msteams', address: `${sink().url}/hook` });
    await send(trickyEvent({ metadata: { commit_status: 'update' } }), cfg);
    expect(sink().requests).toHaveLength(0);
  });

  it('classifies failures: 5xx retryable, 4xx not', async () => {
    const cfg = testProviderConfig({ type: 'msteams', address: `${sink().url}/hook` });
    sink().respondWith(() => ({ status: 500, body: 'oops' }));
    expect((await failureOf(send(trickyEvent(), cfg))).retryable).toBe(true);
    sink().respondWith(() => ({ status: 400, body: 'bad card' }));
    const err = await failureOf(send(trickyEvent(), cfg));
    expect(err.retryable).toBe(false);
  });
});

describe('msteams adapter: legacy MessageCard (Office 365 connector)', () => {
  it('chooses the MessageCard by the host, as Flux does', () => {
    expect(isLegacyTeamsConnector('https://contoso.webhook.office.com/webhookb2/abc')).toBe(true);
    expect(isLegacyTeamsConnector('https://contoso.webhook.office.com:443/webhookb2/abc')).toBe(true);
    expect(isLegacyTeamsConnector('https://prod-12.westus.logic.azure.com:443/workflows/abc')).toBe(false);
    expect(isLegacyTeamsConnector('https://webhook.office.com.evil.example/x')).toBe(false);
  });

  it('posts the MessageCard to a *.webhook.office.com address', async () => {
    const tunnel = await startTunnelToSink();
    try {
      const cfg = testProviderConfig({
        type: 'msteams',
        address: 'http://contoso.webhook.office.com/webhookb2/abc@def/IncomingWebhook/ghi',
        proxy: tunnel.url,
      });
      await send(trickyEvent(), cfg);

      expect(sink().requests).toHaveLength(1);
      const req = sink().requests[0]!;
      expect(req.method).toBe('POST');
      expect(req.url).toBe('/webhookb2/abc@def/IncomingWebhook/ghi');
      expect(req.headers['host']).toBe('contoso.webhook.office.com');
      expect(req.headers['content-type']).toBe('application/json');
      expect(req.body).toBe(
        JSON.stringify({
          '@type': 'MessageCard',
          '@context': 'http://schema.org/extensions',
          themeColor: 'FF0000',
          summary: 'kustomization/apps.flux-system',
          sections: [
            {
              activityTitle: MESSAGE,
              activitySubtitle: 'kustomization/apps.flux-system',
              facts: [
                { name: 'app.kubernetes.io/name', value: 'web' },
                { name: 'revision', value: 'main@sha1:6f1d5e3c8a2b4f7e9d0c1b2a3f4e5d6c7b8a9f0e' },
                { name: 'summary', value: 'Cluster "prod-eu" — *région* Zürich\nsecond line' },
              ],
            },
          ],
        }),
      );

      await send(kustomizationEvent({ metadata: {} }), cfg);
      const info = JSON.parse(sink().requests[1]!.body) as { themeColor: string; sections: Array<{ facts: unknown[] }> };
      expect(info.themeColor).toBe('0076D7');
      expect(info.sections[0]!.facts).toEqual([]);
    } finally {
      await tunnel.close();
    }
  });
});

describe('msteams adapter: validate', () => {
  it('names the bad field', () => {
    expect(addressProblem('msteams', 'https://x.webhook.office.com/a')).toBe('');
    expect(addressProblem('msteams', 'nope')).toMatch(/spec\.address/);
  });
});
