// Deliveries: any state, filtered by Provider, Alert and object; the filters live in the address so a view can be shared.
import { api } from './api.js';
import { el } from './dom.js';
import { deliveriesTable, fillNames, pager } from './deliveries-table.js';
import { clearMessages, fail, startPage } from './shell.js';

const PAGE_SIZE = 50;
const FILTERS = ['state', 'provider', 'alert', 'object'];
const form = document.getElementById('filters');
const results = document.getElementById('results');

function filtersFromAddress() {
  const params = new URLSearchParams(location.search);
  for (const name of FILTERS) if (params.has(name)) form.elements[name].value = params.get(name);
}

async function load(cursors = ['0']) {
  const query = new URLSearchParams();
  for (const name of FILTERS) {
    const value = form.elements[name].value.trim();
    if (value) query.set(name, value);
  }
  history.replaceState(null, '', `?${query}`);
  query.set('limit', String(PAGE_SIZE));
  query.set('cursor', cursors.at(-1));
  results.setAttribute('aria-busy', 'true');
  try {
    const page = await api(`/deliveries?${query}`);
    const count = page.deliveries.length;
    const caption = `${count} ${count === 1 ? 'delivery' : 'deliveries'} (${form.elements.state.selectedOptions[0].textContent.toLowerCase()}), page ${cursors.length}`;
    results.replaceChildren(
      count === 0 ? el('p', {}, 'No delivery matches these filters.') : deliveriesTable(caption, page.deliveries, () => load(cursors)),
      pager(cursors, page.nextCursor, load),
    );
  } catch (err) {
    // Rows from before would look like the answer to these filters.
    results.replaceChildren();
    fail(err);
  } finally {
    results.setAttribute('aria-busy', 'false');
  }
}

startPage('deliveries');
filtersFromAddress();
form.addEventListener('submit', (event) => {
  event.preventDefault();
  clearMessages();
  void load();
});
form.addEventListener('reset', () => setTimeout(() => void load()));
void fillNames('Provider', document.getElementById('provider-names'));
void fillNames('Alert', document.getElementById('alert-names'));
void load();
