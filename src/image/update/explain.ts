/**
 * The explain report as text, one line per marker: what an operator reads to learn why an
 * automation did (or did not) touch a file. Shared by a future CLI and the resources endpoint.
 */
import type { ExplainReport, MarkerReport } from './setters.js';

function describe(m: MarkerReport): string {
  switch (m.outcome) {
    case 'updated':
      return `updated ${m.message}`;
    case 'unchanged':
      return `up to date (${m.message})`;
    case 'ignored':
      return `ignored (${m.reason}): ${m.message}`;
  }
}

export function formatExplain(report: ExplainReport): string {
  const lines: string[] = [];
  if (report.markers.length === 0) lines.push('no $imagepolicy markers found under spec.update.path');
  for (const m of report.markers) lines.push(`${m.file}:${m.line} ${JSON.stringify(m.marker)} ${describe(m)}`);
  if (report.truncated) lines.push('… more markers than the report keeps');
  for (const s of report.skippedFiles) lines.push(`${s.file}: skipped, ${s.reason}`);
  return `${lines.join('\n')}\n`;
}
