// Explain an event: for every Alert, matched or not and why, and what its Provider would receive. Sends nothing.
import { api } from './api.js';
import { el, jsonDetails, table } from './dom.js';
import { fail, notify, startPage } from './shell.js';

const form = document.getElementById('explain-form');
const textarea = document.getElementById('event');
const results = document.getElementById('results');

const EXAMPLE = {
  involvedObject: { kind: 'Kustomization', namespace: 'flux-system', name: 'apps', apiVersion: 'kustomize.toolkit.fluxcd.io/v1' },
  severity: 'info',
  timestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  message: 'Reconciliation finished in 1.2s, next run in 10m0s',
  reason: 'ReconciliationSucceeded',
  reportingController: 'kustomize-controller',
  reportingInstance: 'kustomize-controller-7c9d6f7b8-x2x9z',
  metadata: { 'kustomize.toolkit.fluxcd.io/revision': 'main@sha1:0123456789abcdef0123456789abcdef01234567' },
};

function render(answer) {
  const alerts = answer.alerts ?? [];
  const matched = alerts.filter((a) => a.matched).length;
  return table(
    `${alerts.length} Alerts, ${matched} matched`,
    ['Alert', 'Matched', 'Why', 'Provider', 'Dropped', 'Notification'],
    alerts.map((a) => [
      a.alert,
      el('span', { class: `badge ${a.matched ? 'good' : 'neutral'}` }, a.matched ? 'Matched' : 'Not matched'),
      el('ul', { class: 'reasons' }, (a.reasons ?? []).map((reason) => el('li', {}, reason))),
      a.provider ? `${a.provider}${a.providerType ? ` (${a.providerType})` : ''}` : '—',
      a.dropped ?? '—',
      a.notification === undefined ? el('span', { class: 'muted' }, '—') : jsonDetails('What the Provider receives', a.notification),
    ]),
  );
}

startPage('explain');
document.getElementById('example').addEventListener('click', () => {
  textarea.value = JSON.stringify(EXAMPLE, null, 2);
  textarea.focus();
});
form.addEventListener('submit', async (event) => {
  event.preventDefault();
  let parsed;
  try {
    parsed = JSON.parse(textarea.value);
  } catch (err) {
    fail(`The event is not JSON: ${err.message}`);
    textarea.focus();
    return;
  }
  try {
    const answer = await api('/explain', { method: 'POST', body: { event: parsed } });
    const dropped = answer.droppedMetadata ?? [];
    results.replaceChildren(
      render(answer),
      dropped.length > 0 ? el('p', {}, `Metadata keys Flux's clean-up removes on arrival, so no Provider sees them: ${dropped.join(', ')}`) : '',
    );
    notify('Explained.');
  } catch (err) {
    results.replaceChildren();
    fail(err);
  }
});
