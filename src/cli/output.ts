/** Tables and times as the CLI prints them (`flux get`'s shape: upper-case headers, padded columns). */

/** Columns separated by three spaces, each as wide as its widest cell; no line-breaks inside a cell. */
export function table(headers: string[], rows: string[][]): string {
  const clean = rows.map((row) => row.map((cell) => cell.replace(/\s*\n\s*/g, ' ')));
  const widths = headers.map((h, i) => Math.max(h.length, ...clean.map((row) => row[i]?.length ?? 0)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('   ')
      .trimEnd();
  return `${[line(headers), ...clean.map(line)].join('\n')}\n`;
}

/** `45s ago`, `3m ago`, `2h ago`, `5d ago`; `in 20s` for a time to come. */
export function relativeTime(epochMs: number, now = Date.now()): string {
  const seconds = Math.round((now - epochMs) / 1000);
  const abs = Math.abs(seconds);
  const amount = abs < 60 ? `${abs}s` : abs < 3600 ? `${Math.floor(abs / 60)}m` : abs < 86_400 ? `${Math.floor(abs / 3600)}h` : `${Math.floor(abs / 86_400)}d`;
  return seconds >= 0 ? `${amount} ago` : `in ${amount}`;
}

/** An RFC 3339 time with its relative form: `2026-12-01T18:00:00.000Z (3m ago)`. */
export function timeWithAge(epochMs: number): string {
  return `${new Date(epochMs).toISOString()} (${relativeTime(epochMs)})`;
}

export function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** Every line of `text` indented by `by` spaces. */
export function indent(text: string, by: number): string {
  const pad = ' '.repeat(by);
  return text
    .trimEnd()
    .split('\n')
    .map((line) => pad + line)
    .join('\n');
}
