/**
 * `msteams`: a Microsoft Teams message, as Flux's notification-controller sends it.
 *
 * - Addresses whose host ends in `.webhook.office.com` are the deprecated Office 365 connectors:
 *   they get the legacy MessageCard (theme colour `0076D7`, `FF0000` for errors; the message as
 *   the section title, `<kind>/<name>.<namespace>` as subtitle and summary; one fact per
 *   metadata key, sorted by key here where Flux has Go's random map order).
 * - Every other address (Teams Workflows / Power Automate) gets an Adaptive Card 1.4 in a
 *   `message` envelope: a full-width card with one Container holding the object name (large,
 *   bolder), the message (colour `attention` for errors) and a FactSet whose facts are
 *   `summary` first, then the other metadata keys sorted.
 * - Fields Flux leaves out when empty are left out here too (Go's `omitempty`): an empty
 *   message has no `text`, an event without metadata a FactSet without `facts`.
 * - Events marked `commit_status: update` are not for chat providers and are skipped.
 */
import type { FluxEvent } from '../src/events/event.js';
import { isCommitStatusUpdate, objectTitle } from './chat-format.js';
import { goSortedKeys } from '../src/events/wire.js';
import { prepared, type ProviderAdapter } from './types.js';

export const ADAPTIVE_CARD_VERSION = '1.4';
export const ADAPTIVE_CARD_SCHEMA = 'http://adaptivecards.io/schemas/adaptive-card.json';

/** Whether the address is a legacy Office 365 connector (MessageCard) rather than a Workflows URL. */
export function isLegacyTeamsConnector(address: string): boolean {
  try {
    return new URL(address).hostname.toLowerCase().endsWith('.webhook.office.com');
  } catch {
    return false;
  }
}

export function messageCardPayload(event: FluxEvent): Record<string, unknown> {
  const metadata = event.metadata ?? {};
  const objName = objectTitle(event.involvedObject);
  return {
    '@type': 'MessageCard',
    '@context': 'http://schema.org/extensions',
    themeColor: event.severity === 'error' ? 'FF0000' : '0076D7',
    summary: objName,
    sections: [
      {
        activityTitle: event.message,
        activitySubtitle: objName,
        facts: goSortedKeys(Object.keys(metadata)).map((name) => ({ name, value: metadata[name] ?? '' })),
      },
    ],
  };
}

/** `{ title, value }` facts: `summary` first, then the other keys in sorted order. */
export function adaptiveCardFacts(metadata: Record<string, string>): Array<{ title: string; value: string }> {
  const facts: Array<{ title: string; value: string }> = [];
  if (Object.prototype.hasOwnProperty.call(metadata, 'summary')) facts.push({ title: 'summary', value: metadata['summary'] ?? '' });
  for (const key of goSortedKeys(Object.keys(metadata))) {
    if (key !== 'summary') facts.push({ title: key, value: metadata[key] ?? '' });
  }
  return facts;
}

export function adaptiveCardContent(event: FluxEvent): Record<string, unknown> {
  const facts = adaptiveCardFacts(event.metadata ?? {});
  const message: Record<string, unknown> = { type: 'TextBlock' };
  if (event.message) message['text'] = event.message;
  if (event.severity === 'error') message['color'] = 'attention';
  message['wrap'] = true;
  const factSet: Record<string, unknown> = { type: 'FactSet' };
  if (facts.length > 0) factSet['facts'] = facts;
  return {
    $schema: ADAPTIVE_CARD_SCHEMA,
    type: 'AdaptiveCard',
    version: ADAPTIVE_CARD_VERSION,
    body: [
      {
        type: 'Container',
        items: [{ type: 'TextBlock', text: objectTitle(event.involvedObject), size: 'large', weight: 'bolder', wrap: true }, message, factSet],
      },
    ],
    msteams: { width: 'Full' },
  };
}

export function adaptiveCardPayload(event: FluxEvent): Record<string, unknown> {
  return {
    type: 'message',
    attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', content: adaptiveCardContent(event) }],
  };
}

/** Which card a Teams address takes: decided once per Provider version. */
export type TeamsCardStyle = 'messageCard' | 'adaptiveCard';

export const msteams: ProviderAdapter<{ url: string; card: TeamsCardStyle }> = {
  type: 'msteams',
  prepare: (config) => prepared({ url: config.address, card: isLegacyTeamsConnector(config.address) ? 'messageCard' : 'adaptiveCard' }),
  async send(event, { prepared: { url, card }, http }) {
    if (isCommitStatusUpdate(event)) return;
    await http.send({ url, json: card === 'messageCard' ? messageCardPayload(event) : adaptiveCardPayload(event) });
  },
};
