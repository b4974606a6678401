// The deliveries table the Deliveries and Dead letters pages share, with each row's actions.
import { api } from './api.js';
import { el, tableOfRows, timeOf } from './dom.js';
import { confirmAction, fail, focusMessage, notify } from './shell.js';

const STATE_WORDS = { waiting: 'Waiting', active: 'Sending', delayed: 'Delayed', failed: 'Dead letter', completed: 'Delivered' };

function objectOf(event) {
  const o = event?.involvedObject;
  return o ? `${o.kind}/${o.namespace}/${o.name}` : '—';
}

/** Runs one action on a delivery, then says what happened and refreshes the list. */
async function act(work, done, refresh) {
  try {
    await work();
    notify(done);
  } catch (err) {
    fail(err);
  }
  await refresh();
  focusMessage();
}

function actions(record, refresh) {
  const id = record.id;
  const path = `/deliveries/${encodeURIComponent(id)}`;
  const buttons = [];
  if (record.state === 'failed') {
    buttons.push(
      el('button', {
        type: 'button',
        'aria-label': `Replay delivery ${id}`,
        onclick: async () => {
          if (!(await confirmAction(`Replay delivery ${id} to ${record.data.provider}? It is sent again from its first attempt.`, 'Replay'))) return;
          await act(() => api(`${path}/replay`, { method: 'POST' }), `Delivery ${id} replayed: it is waiting to be sent.`, refresh);
        },
      }, 'Replay'),
      el('button', {
        type: 'button',
        class: 'danger',
        'aria-label': `Purge delivery ${id}`,
        onclick: async () => {
          if (!(await confirmAction(`Purge delivery ${id}? The notification is deleted and will never be sent.`, 'Purge'))) return;
          await act(() => api(path, { method: 'DELETE' }), `Delivery ${id} purged.`, refresh);
        },
      }, 'Purge'),
    );
  }
  if (record.state === 'delayed') {
    buttons.push(
      el('button', {
        type: 'button',
        'aria-label': `Retry delivery ${id} now`,
        onclick: () => act(() => api(`${path}/retry-now`, { method: 'POST' }), `Delivery ${id} is due now.`, refresh),
      }, 'Retry now'),
    );
  }
  return buttons;
}

const COLUMNS = ['Delivery', 'State', 'Provider', 'Alert', 'Object', 'Attempts', 'Last error', 'Next attempt', 'Accepted', 'Finished', 'Actions'];

/** One delivery's row, and below it a full-width row with its event, shown by the row's Event button. */
function rowsOf(record, index, refresh) {
  const { id, data = {} } = record;
  const detailId = `event-${index}`;
  const detail = el(
    'tr',
    { id: detailId, class: 'detail', hidden: true },
    el('td', { colspan: COLUMNS.length }, el('pre', {}, JSON.stringify(data.event, null, 2)), data.delivered ? el('p', { class: 'muted' }, 'A delivered event keeps only what identifies it.') : ''),
  );
  const toggle = el('button', { type: 'button', 'aria-expanded': 'false', 'aria-controls': detailId, 'aria-label': `Event of delivery ${id}` }, 'Event');
  toggle.addEventListener('click', () => {
    detail.hidden = !detail.hidden;
    toggle.setAttribute('aria-expanded', String(!detail.hidden));
  });
  const cells = [
    // Ids are long hashes: the start tells them apart; the whole id is in the title and the buttons' names.
    el('code', { title: id }, id.length > 12 ? `${id.slice(0, 12)}…` : id),
    STATE_WORDS[record.state] ?? record.state,
    data.provider ?? '—',
    data.alert ?? '—',
    objectOf(data.event),
    record.maxAttempts ? `${record.attemptsMade} of ${record.maxAttempts}` : String(record.attemptsMade),
    record.lastError ? el('span', { class: 'error-text' }, record.lastError) : el('span', { class: 'muted' }, '—'),
    timeOf(record.nextAttemptAt),
    timeOf(data.acceptedAt),
    timeOf(record.finishedAt),
    el('div', { class: 'row-actions' }, toggle, actions(record, refresh)),
  ];
  return [el('tr', { class: 'delivery' }, cells.map((cell) => el('td', {}, cell))), detail];
}

/** The table of `records`; `refresh` reloads the list after an action. */
export function deliveriesTable(caption, records, refresh) {
  return tableOfRows(caption, COLUMNS, records.map((record, index) => rowsOf(record, index, refresh)));
}

/** Previous/next page buttons over a cursor-paged list. */
export function pager(cursors, nextCursor, go) {
  const previous = el('button', { type: 'button', disabled: cursors.length <= 1, onclick: () => go(cursors.slice(0, -1)) }, 'Previous page');
  const next = el('button', { type: 'button', disabled: nextCursor === undefined, onclick: () => go([...cursors, nextCursor]) }, 'Next page');
  return el('div', { class: 'actions pager' }, previous, next);
}

/** Fills a datalist or select with the `namespace/name` of every resource of a kind (best effort: the page works without). */
export async function fillNames(kind, target, asOptions = false) {
  try {
    const { resources = [] } = await api('/resources');
    const names = resources.filter((r) => r.kind === kind).map((r) => `${r.namespace}/${r.name}`).sort();
    target.append(...names.map((name) => (asOptions ? el('option', { value: name }, name) : el('option', { value: name }))));
    return names;
  } catch {
    return [];
  }
}
