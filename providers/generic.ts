/**
 * `generic` and `generic-hmac`: the event itself, as Flux serialises it, POSTed to the
 * address with a `Gotk-Component` header; `generic-hmac` adds `X-Signature: sha256=<hex>`,
 * an HMAC-SHA256 of the body keyed by the Secret's `token`.
 */
import { createHmac } from 'node:crypto';
import type { ProviderAdapter } from './types.js';
import { fluxEventJson } from '../src/events/wire.js';

export const NOTIFICATION_HEADER = 'gotk-component';

export function signBody(body: string, key: string): string {
  return `sha256=${createHmac('sha256', key).update(body).digest('hex')}`;
}

export const generic: ProviderAdapter = {
  type: 'generic',
  async send(event, { config, http }) {
    await http.send({
      url: config.address,
      body: fluxEventJson(event),
      headers: { 'content-type': 'application/json', [NOTIFICATION_HEADER]: event.reportingController ?? '' },
    });
  },
};

export const genericHmac: ProviderAdapter = {
  type: 'generic-hmac',
  validate(config) {
    return config.token ? undefined : 'generic-hmac needs the HMAC key in the `token` key of spec.secretRef';
  },
  async send(event, { config, http }) {
    const body = fluxEventJson(event);
    await http.send({
      url: config.address,
      body,
      headers: {
        'content-type': 'application/json',
        [NOTIFICATION_HEADER]: event.reportingController ?? '',
        'x-signature': signBody(body, config.token ?? ''),
      },
    });
  },
};
