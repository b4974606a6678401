// Dead letters: replay or purge one, or all of a Provider's, each after a confirmation.
import { api } from './api.js';
import { el } from './dom.js';
import { deliveriesTable, fillNames, pager } from './deliveries-table.js';
import { clearMessages, confirmAction, fail, focusMessage, notify, startPage } from './shell.js';

const PAGE_SIZE = 100;
const form = document.getElementById('scope');
const providerSelect = document.getElementById('provider');
const results = document.getElementById('results');

function scope() {
  const provider = providerSelect.value;
  return { provider, query: provider ? `?provider=${encodeURIComponent(provider)}` : '', words: provider ? `of ${provider}` : 'of every Provider' };
}

async function load(cursors = ['0']) {
  const { provider } = scope();
  const query = new URLSearchParams({ state: 'failed', limit: String(PAGE_SIZE), cursor: cursors.at(-1) });
  if (provider) query.set('provider', provider);
  results.setAttribute('aria-busy', 'true');
  try {
    const page = await api(`/deliveries?${query}`);
    const count = page.deliveries.length;
    results.replaceChildren(
      count === 0 ? el('p', {}, 'No dead letters.') : deliveriesTable(`${count} dead ${count === 1 ? 'letter' : 'letters'} ${scope().words}, page ${cursors.length}`, page.deliveries, () => load(cursors)),
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

async function everyDeadLetter(verb, method, path, describe) {
  const { query, words } = scope();
  if (!(await confirmAction(`${verb} every dead letter ${words}?`, verb))) return;
  try {
    notify(describe(await api(`${path}${query}`, { method })));
  } catch (err) {
    fail(err);
  }
  await load();
  focusMessage();
}

startPage('dead-letters');
form.addEventListener('submit', (event) => {
  event.preventDefault();
  clearMessages();
  void load();
});
document.getElementById('replay-all').addEventListener('click', () =>
  everyDeadLetter('Replay', 'POST', '/dead-letters/replay', (r) => `${r.replayed} replayed${r.skipped ? `, ${r.skipped} skipped (they changed state meanwhile)` : ''}.`),
);
document.getElementById('purge-all').addEventListener('click', () => everyDeadLetter('Purge', 'DELETE', '/dead-letters', (r) => `${r.purged} purged.`));
void fillNames('Provider', providerSelect, true);
void load();
