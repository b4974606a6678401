// Test a Provider: one test notification through the real provider path, and the provider's answer.
import { api, objectPath } from './api.js';
import { el } from './dom.js';
import { fillNames } from './deliveries-table.js';
import { fail, notify, startPage } from './shell.js';

const form = document.getElementById('test-form');
const select = document.getElementById('provider');
const results = document.getElementById('results');

function render(provider, answer) {
  const rows = [
    ['Provider', provider],
    ['Outcome', el('span', { class: `badge ${answer.ok ? 'good' : 'bad'}` }, answer.ok ? 'Sent' : 'Failed')],
    ['HTTP status', answer.status === undefined ? '—' : String(answer.status)],
    ['Took', `${answer.durationMs} ms`],
  ];
  if (answer.answer !== undefined) rows.push(['Answer', el('pre', {}, answer.answer)]);
  if (answer.error !== undefined) rows.push(['Error', el('span', { class: 'error-text' }, answer.error)]);
  return el('dl', { class: 'result' }, rows.map(([term, value]) => [el('dt', {}, term), el('dd', {}, value)]));
}

startPage('test');
void fillNames('Provider', select, true);
form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const provider = select.value;
  const message = document.getElementById('message').value.trim();
  const button = form.querySelector('button[type=submit]');
  button.disabled = true;
  results.replaceChildren(el('p', {}, `Sending a test notification to ${provider}…`));
  try {
    const answer = await api(`/providers/${objectPath(provider)}/test`, { method: 'POST', body: message ? { message } : {} });
    results.replaceChildren(render(provider, answer));
    notify(answer.ok ? `${provider} accepted the test notification.` : `${provider} did not accept the test notification.`);
  } catch (err) {
    results.replaceChildren();
    fail(err);
  } finally {
    button.disabled = false;
  }
});
