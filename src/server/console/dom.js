// Building the page from data. Everything the API returns is put in as text (text nodes and
// attribute values), never parsed as HTML: an event's message may hold any markup.

/**
 * An element with attributes (`on<event>` adds a listener; `true` is an empty attribute;
 * `undefined`/`false` leave it out) and children (nodes, or values appended as text).
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false || value === null) continue;
    if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child !== undefined && child !== null && child !== false) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** How long ago, or how far ahead, an instant is, in words. */
export function relative(ms, now = Date.now()) {
  const seconds = Math.round((ms - now) / 1000);
  const size = Math.abs(seconds);
  const amount = size < 90 ? `${size} s` : size < 5400 ? `${Math.round(size / 60)} min` : size < 129600 ? `${Math.round(size / 3600)} h` : `${Math.round(size / 86400)} d`;
  return seconds >= 0 ? `in ${amount}` : `${amount} ago`;
}

/** A `<time>` for an epoch-millisecond instant (local time, the date only when not today, and how far from now), or a dash. */
export function timeOf(ms) {
  if (typeof ms !== 'number') return el('span', { class: 'muted' }, '—');
  const date = new Date(ms);
  const today = date.toDateString() === new Date().toDateString();
  const shown = today ? date.toLocaleTimeString() : date.toLocaleString();
  return el('time', { datetime: date.toISOString(), title: date.toISOString() }, `${shown} (${relative(ms)})`);
}

/** An RFC 3339 string as `timeOf` shows it. */
export function timeOfText(text) {
  const ms = Date.parse(text ?? '');
  return Number.isNaN(ms) ? el('span', { class: 'muted' }, text || '—') : timeOf(ms);
}

/** A table with a caption, one header row and the given rows (arrays of cells). */
export function table(caption, headers, rows) {
  return tableOfRows(caption, headers, rows.map((cells) => el('tr', {}, cells.map((c) => el('td', {}, c)))));
}

/** A table with a caption, one header row and the given body rows (`tr` elements, or arrays of them). */
export function tableOfRows(caption, headers, bodyRows) {
  return el(
    'div',
    { class: 'table-wrap' },
    el(
      'table',
      {},
      el('caption', {}, caption),
      el('thead', {}, el('tr', {}, headers.map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, bodyRows),
    ),
  );
}

/** Ready condition status as a word with a class for its colour (the word carries the meaning). */
export function readyBadge(status) {
  const word = status === 'True' ? 'Ready' : status === 'False' ? 'Not ready' : 'Unknown';
  return el('span', { class: `badge ${status === 'True' ? 'good' : status === 'False' ? 'bad' : 'neutral'}` }, word);
}

/** A JSON value, pretty-printed as text inside a disclosure. */
export function jsonDetails(summary, value) {
  return el('details', {}, el('summary', {}, summary), el('pre', {}, JSON.stringify(value, null, 2)));
}
