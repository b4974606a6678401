// What every console page shares: the navigation, the token form, the live queue numbers,
// the confirmation dialog and the page's status and error lines.
import { api, forgetToken, setTokenPrompt, storeToken, storedToken } from './api.js';
import { el } from './dom.js';

const PAGES = [
  ['resources', '/console/', 'Resources'],
  ['deliveries', '/console/deliveries.html', 'Deliveries'],
  ['dead-letters', '/console/dead-letters.html', 'Dead letters'],
  ['explain', '/console/explain.html', 'Explain an event'],
  ['test', '/console/test.html', 'Test a Provider'],
];

/** How often the live numbers are asked for, while the page is visible. */
const STATS_EVERY_MS = 5000;

const QUEUE_NUMBERS = [
  ['waiting', 'Waiting'],
  ['active', 'Sending'],
  ['delayed', 'Delayed (retrying)'],
  ['failed', 'Dead letters'],
  ['completed', 'Completed (kept)'],
];
const RATES = [
  ['delivered', 'Delivered'],
  ['retrying', 'Retrying'],
  ['dead', 'Dead'],
];

let statusLine;
let problemLine;

/** Says what just happened, in the page's polite status line. */
export function notify(text) {
  problemLine.textContent = '';
  statusLine.textContent = text;
}

/** Empties both lines (a new question was asked). */
export function clearMessages() {
  statusLine.textContent = '';
  problemLine.textContent = '';
}

/** Says what went wrong, in the page's alert line. */
export function fail(err) {
  statusLine.textContent = '';
  problemLine.textContent = err instanceof Error ? err.message : String(err);
}

/** Moves the focus to the line saying what happened (the row acted on may be gone after a refresh). */
export function focusMessage() {
  (problemLine.textContent ? problemLine : statusLine).focus();
}

/** Asks for confirmation in a modal dialog (Cancel has the focus); resolves true when confirmed. */
export function confirmAction(question, action) {
  const message = el('p', { id: 'confirm-text' }, question);
  const cancel = el('button', { type: 'submit', value: 'cancel', autofocus: true }, 'Cancel');
  const confirm = el('button', { type: 'submit', value: 'confirm', class: 'danger' }, action);
  const dialog = el('dialog', { 'aria-labelledby': 'confirm-text' }, el('form', { method: 'dialog' }, message, el('div', { class: 'actions' }, cancel, confirm)));
  document.body.append(dialog);
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue === 'confirm');
      dialog.remove();
    });
    dialog.showModal();
  });
}

function navigation(current) {
  return el(
    'nav',
    { 'aria-label': 'Console pages' },
    el('ul', {}, PAGES.map(([id, href, label]) => el('li', {}, el('a', { href, 'aria-current': id === current ? 'page' : undefined }, label)))),
  );
}

/** The token form: hidden until the API answers 401; then it says why and takes the focus. */
function tokenForm() {
  const why = el('p', { id: 'token-why' });
  const input = el('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'off', required: true, spellcheck: 'false', 'aria-describedby': 'token-why' });
  const form = el('form', { id: 'token-form', class: 'token', hidden: true }, why, el('label', { for: 'token' }, 'Admin token'), input, el('button', { type: 'submit' }, 'Use token'));
  const forget = el('button', { type: 'button', id: 'forget-token', hidden: !storedToken() }, 'Forget token');
  forget.addEventListener('click', () => {
    forgetToken();
    forget.hidden = true;
    notify('The token is forgotten in this tab.');
  });
  let answer;
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    storeToken(input.value.trim());
    input.value = '';
    form.hidden = true;
    forget.hidden = false;
    answer?.();
  });
  setTokenPrompt(
    (reason) =>
      new Promise((resolve) => {
        answer = resolve;
        why.textContent = reason;
        form.hidden = false;
        input.focus();
      }),
  );
  return el('div', { class: 'token-area' }, form, forget);
}

/** The live queue numbers and delivery rates, asked for every few seconds and announced politely when they change. */
function liveNumbers() {
  const values = new Map();
  const item = (key, label) => {
    const value = el('dd', { id: `live-${key}` }, '…');
    values.set(key, value);
    return [el('dt', {}, label), value];
  };
  const note = el('p', { class: 'muted', id: 'live-note' });
  const section = el(
    'section',
    { class: 'live', 'aria-labelledby': 'live-heading' },
    el('h2', { id: 'live-heading' }, 'Queue now'),
    el('dl', { 'aria-live': 'polite' }, QUEUE_NUMBERS.map(([key, label]) => item(key, label))),
    el('dl', { 'aria-live': 'polite', 'aria-label': 'Delivery rates over the last 60 seconds' }, RATES.map(([key, label]) => item(key, `${label} /s`))),
    note,
  );
  // Only changed numbers are written, so a screen reader hears news, not the same numbers every 5 s.
  const show = (key, text) => {
    const cell = values.get(key);
    if (cell.textContent !== text) cell.textContent = text;
  };
  const poll = async () => {
    try {
      const stats = await api('/stats');
      for (const [key] of QUEUE_NUMBERS) show(key, String(stats.queue?.[key] ?? '—'));
      for (const [key] of RATES) show(key, typeof stats.rates?.[key] === 'number' ? stats.rates[key].toFixed(2) : '—');
      note.textContent = `Rates over the last 60 s; updated ${new Date(stats.at ?? Date.now()).toLocaleTimeString()}.`;
    } catch (err) {
      note.textContent = `Live numbers unavailable: ${err.message}`;
    } finally {
      setTimeout(poll, document.hidden ? STATS_EVERY_MS * 6 : STATS_EVERY_MS);
    }
  };
  void poll();
  return section;
}

/** Fills the page's header (navigation, token form, live numbers) and its status lines. */
export function startPage(current) {
  const header = document.getElementById('shell');
  header.append(el('p', { class: 'brand' }, 'Herald console'), navigation(current), tokenForm(), liveNumbers());
  statusLine = document.getElementById('status');
  problemLine = document.getElementById('problem');
}
