/**
 * `alertmanager`: one `firing` alert POSTed (as a one-element array) to the Alertmanager API
 * address (`/api/v2/alerts`). Labels are the metadata (minus `summary`) plus `alertname`
 * (`Flux` + kind + the reason title-cased the way Go's `cases.Title` does it, so
 * `ReconciliationSucceeded` becomes `Reconciliationsucceeded`), `severity`, `reason`, `kind`,
 * `name`, `namespace` and `reportingcontroller`. Annotations are `message` and, when the
 * metadata has one, `summary`. `startsAt` is the event time; `endsAt` is Go's zero time, which
 * Alertmanager treats as unset (Flux cannot know when the condition ends).
 *
 * Auth: `username` + `password` from the Secret as Basic auth, else `token` as a Bearer header
 * (Flux sets both and the Basic header wins), else none.
 */
import { basicAuth } from './http.js';
import type { FluxEvent } from '../src/events/event.js';
import { GoMap, rfc3339, sendGoJson } from './chat-format.js';
import { prepared, type ProviderAdapter } from './types.js';

/** Go's zero time.Time in RFC 3339. */
const GO_ZERO_TIME = '0001-01-01T00:00:00Z';

/**
 * What golang.org/x/text/cases `Title` does to a reason: each word's first letter upper-cased
 * and the rest lower-cased.
 */
export function goTitleCase(text: string): string {
  return text.replace(/[\p{L}\p{M}\p{N}_']+/gu, (word) => {
    const [first = '', ...rest] = [...word];
    return first.toUpperCase() + rest.join('').toLowerCase();
  });
}

export function alertmanagerPayload(event: FluxEvent): unknown[] {
  const { summary, ...rest } = event.metadata ?? {};
  const annotations: Record<string, string> = { message: event.message };
  if (summary !== undefined) annotations.summary = summary;
  const { kind, name, namespace = '' } = event.involvedObject;
  const reason = event.reason ?? '';
  const labels: Record<string, string> = {
    ...rest,
    alertname: `Flux${kind}${goTitleCase(reason)}`,
    severity: event.severity,
    reason,
    kind,
    name,
    namespace,
    reportingcontroller: event.reportingController ?? '',
  };
  return [
    {
      status: 'firing',
      labels: new GoMap(labels),
      annotations: new GoMap(annotations),
      startsAt: rfc3339(event),
      endsAt: GO_ZERO_TIME,
    },
  ];
}

export const alertmanager: ProviderAdapter<{ url: string; headers: Record<string, string> }> = {
  type: 'alertmanager',
  prepare(config) {
    const headers: Record<string, string> = {};
    if (config.username && config.password) headers.authorization = basicAuth(config.username, config.password);
    else if (config.token) headers.authorization = `Bearer ${config.token}`;
    return prepared({ url: config.address, headers });
  },
  async send(event, { prepared: { url, headers }, http }) {
    await sendGoJson(http, url, alertmanagerPayload(event), headers);
  },
};
