/**
 * `generic` and `generic-hmac`: the event itself, as Flux serialises it, POSTed to the
 * address with a `Gotk-Component` header; `generic-hmac` adds `X-Signature: sha256=<hex>`,
 * an HMAC-SHA256 of the body keyed by the Secret's `token`.
 */
import { createHmac } from 'node:crypto';
import { prepared, problem, type ProviderAdapter } from './types.js';
import { fluxEventJson } from '../src/events/wire.js';

export const NOTIFICATION_HEADER = 'gotk-component';

export function signBody(body: string, key: string): string {
  return `sha256=${createHmac('sha256', key).update(body).digest('hex')}`;
}

export const generic: ProviderAdapter<{ url: string }> = {
  type: 'generic',
  prepare: (config) => prepared({ url: config.address }),
  async send(event, { prepared: { url }, http }) {
    await http.send({
      url,
      body: fluxEventJson(event),
      headers: { 'content-type': 'application/json', [NOTIFICATION_HEADER]: event.reportingController ?? '' },
    });
  },
};

export const genericHmac: ProviderAdapter<{ url: string; key: string }> = {
  type: 'generic-hmac',
  prepare(config) {
    if (!config.token) return problem('generic-hmac needs the HMAC key in the `token` key of spec.secretRef');
    return prepared({ url: config.address, key: config.token });
  },
  async send(event, { prepared: { url, key }, http }) {
    const body = fluxEventJson(event);
    await http.send({
      url,
      body,
      headers: {
        'content-type': 'application/json',
        [NOTIFICATION_HEADER]: event.reportingController ?? '',
        'x-signature': signBody(body, key),
      },
    });
  },
};
