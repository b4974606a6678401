// Resources: every Provider, Alert and Receiver with its Ready condition, and for Providers the last delivery.
import { api } from './api.js';
import { el, readyBadge, table, timeOf, timeOfText } from './dom.js';
import { fail, startPage } from './shell.js';

const OUTCOMES = { delivered: 'Delivered', retrying: 'Retrying', dead: 'Dead letter' };

function commonCells(r) {
  return [
    `${r.namespace}/${r.name}`,
    readyBadge(r.ready?.status),
    r.ready?.reason ?? '',
    el('span', { class: 'message' }, r.ready?.message ?? ''),
    r.suspended ? 'Yes' : 'No',
  ];
}

function lastDelivery(last) {
  if (!last) return el('span', { class: 'muted' }, 'none yet');
  return el(
    'div',
    {},
    el('span', { class: `badge ${last.outcome === 'delivered' ? 'good' : last.outcome === 'dead' ? 'bad' : 'neutral'}` }, OUTCOMES[last.outcome] ?? last.outcome),
    ' ',
    timeOf(last.at),
    el('div', { class: 'muted' }, `Alert ${last.alert}`),
    last.error ? el('div', { class: 'error-text' }, last.error) : undefined,
  );
}

const COMMON = ['Name', 'Ready', 'Reason', 'Message', 'Suspended'];

function render(statuses) {
  const all = statuses.resources ?? [];
  const of = (kind) => all.filter((r) => r.kind === kind);
  const others = all.filter((r) => !['Provider', 'Alert', 'Receiver'].includes(r.kind));
  const parts = [
    el('h2', {}, 'Providers'),
    table(`${of('Provider').length} Providers`, [...COMMON, 'Last delivery'], of('Provider').map((r) => [...commonCells(r), lastDelivery(r.lastDelivery)])),
    el('h2', {}, 'Alerts'),
    table(`${of('Alert').length} Alerts`, COMMON, of('Alert').map(commonCells)),
    el('h2', {}, 'Receivers'),
    table(
      `${of('Receiver').length} Receivers`,
      [...COMMON, 'Webhook path', 'Last request'],
      of('Receiver').map((r) => [...commonCells(r), r.webhookPath || '—', timeOfText(r.lastRequestAt)]),
    ),
  ];
  if (others.length > 0) {
    parts.push(el('h2', {}, 'Image automation'), table(`${others.length} resources`, ['Kind', ...COMMON], others.map((r) => [r.kind, ...commonCells(r)])));
  }
  const problems = statuses.problems ?? [];
  if (problems.length > 0) {
    parts.push(
      el('h2', {}, 'Manifests that did not load'),
      table(`${problems.length} problems`, ['File', 'Document', 'Problem'], problems.map((p) => [p.file, p.document ?? '—', p.message])),
    );
  }
  return parts;
}

async function load() {
  const target = document.getElementById('resources');
  try {
    target.replaceChildren(...render(await api('/resources')));
  } catch (err) {
    fail(err);
  } finally {
    target.setAttribute('aria-busy', 'false');
  }
}

startPage('resources');
void load();
