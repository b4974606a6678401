/**
 * A small SVG writer for the offered-load sweep: two panels side by side, delivered/s against
 * offered events/s (with the "everything delivered" diagonal) and end-to-end latency p50
 * (solid) / p99 (dashed) against offered events/s on a log scale, one colour per target.
 * Hand-written because a plotting dependency would outweigh the benchmark it serves.
 */

export interface SweepPoint {
  /** Offered events/s. */
  offered: number;
  /** Delivered events/s at the sink. */
  delivered: number;
  /** End-to-end latency percentiles, ms (NaN when nothing was delivered). */
  e2eP50: number;
  e2eP99: number;
}

export interface SweepSeries {
  name: string;
  points: SweepPoint[];
}

const WIDTH = 960;
const HEIGHT = 420;
const PANEL_W = 400;
const PANEL_H = 290;
const TOP = 60;
const LEFTS = [80, 560];
const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&${{ '<': 'lt', '>': 'gt', '&': 'amp', '"': 'quot', "'": 'apos' }[c]};`);
}

/** About `count` round tick values (1, 2 or 5 × 10^n apart) covering [0, max]. */
export function linearTicks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0];
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].find((m) => m * magnitude >= raw) as number) * magnitude;
  const ticks: number[] = [];
  for (let v = 0; v <= max + step * 1e-9 && ticks.length < 100; v += step) ticks.push(Number(v.toPrecision(12)));
  if ((ticks[ticks.length - 1] as number) < max) ticks.push(Number((ticks.length * step).toPrecision(12)));
  return ticks;
}

/** Powers of ten from below `min` to above `max` (both > 0). */
export function logTicks(min: number, max: number): number[] {
  const lo = Math.floor(Math.log10(min));
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(max)));
  const ticks: number[] = [];
  for (let e = lo; e <= hi && ticks.length < 30; e++) ticks.push(10 ** e);
  return ticks;
}

function fmtTick(v: number): string {
  if (v >= 1000 && v % 1000 === 0) return `${v / 1000}k`;
  if (v < 1) return String(Number(v.toPrecision(3)));
  return String(v);
}

function fmtMsTick(ms: number): string {
  return ms >= 1000 ? `${ms / 1000} s` : `${fmtTick(ms)} ms`;
}

function num(v: number): string {
  return Number.isFinite(v) ? v.toFixed(1) : '0';
}

/** The SVG document (UTF-8 text). */
export function renderSweepSvg(series: SweepSeries[], title: string): string {
  const points = series.flatMap((s) => s.points);
  const maxX = Math.max(1, ...points.map((p) => p.offered));
  const xTicks = linearTicks(maxX);
  const xMax = xTicks[xTicks.length - 1] as number;
  const yTicks = linearTicks(Math.max(1, ...points.map((p) => p.delivered), maxX));
  const yMax = yTicks[yTicks.length - 1] as number;
  const latencies = points.flatMap((p) => [p.e2eP50, p.e2eP99]).filter((v) => Number.isFinite(v) && v > 0);
  const lTicks = logTicks(latencies.length ? Math.min(...latencies) : 1, latencies.length ? Math.max(...latencies) : 1000);
  const lMin = Math.log10(lTicks[0] as number);
  const lMax = Math.log10(lTicks[lTicks.length - 1] as number);

  const out: string[] = [];
  out.push(`<?xml version="1.0" encoding="UTF-8"?>`);
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`);
  out.push(`<text x="${WIDTH / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(title)}</text>`);

  const panel = (left: number, heading: string, yLabel: string, yTickList: Array<[number, string]>, xOf: (v: number) => number) => {
    out.push(`<text x="${left + PANEL_W / 2}" y="${TOP - 10}" text-anchor="middle" font-size="13">${escapeXml(heading)}</text>`);
    out.push(`<rect x="${left}" y="${TOP}" width="${PANEL_W}" height="${PANEL_H}" fill="none" stroke="#444"/>`);
    for (const t of xTicks) {
      const x = num(xOf(t));
      out.push(`<line x1="${x}" y1="${TOP}" x2="${x}" y2="${TOP + PANEL_H}" stroke="#ddd"/>`);
      out.push(`<text x="${x}" y="${TOP + PANEL_H + 16}" text-anchor="middle">${fmtTick(t)}</text>`);
    }
    for (const [y, label] of yTickList) {
      out.push(`<line x1="${left}" y1="${num(y)}" x2="${left + PANEL_W}" y2="${num(y)}" stroke="#ddd"/>`);
      out.push(`<text x="${left - 6}" y="${num(y + 4)}" text-anchor="end">${escapeXml(label)}</text>`);
    }
    out.push(`<text x="${left + PANEL_W / 2}" y="${TOP + PANEL_H + 34}" text-anchor="middle">offered events/s</text>`);
    out.push(`<text transform="translate(${left - 58} ${TOP + PANEL_H / 2}) rotate(-90)" text-anchor="middle">${escapeXml(yLabel)}</text>`);
  };

  // Panel 1: delivered/s against offered.
  const [l1, l2] = LEFTS as [number, number];
  const x1 = (v: number) => l1 + (v / xMax) * PANEL_W;
  const y1 = (v: number) => TOP + PANEL_H - (v / yMax) * PANEL_H;
  panel(l1, 'delivered/s', 'delivered events/s', yTicks.map((t) => [y1(t), fmtTick(t)]), x1);
  out.push(`<line x1="${num(x1(0))}" y1="${num(y1(0))}" x2="${num(x1(Math.min(xMax, yMax)))}" y2="${num(y1(Math.min(xMax, yMax)))}" stroke="#999" stroke-dasharray="2 3"/>`);

  // Panel 2: latency (log scale) against offered.
  const x2 = (v: number) => l2 + (v / xMax) * PANEL_W;
  const y2 = (ms: number) => TOP + PANEL_H - ((Math.log10(ms) - lMin) / (lMax - lMin)) * PANEL_H;
  panel(l2, 'end-to-end latency (p50 solid, p99 dashed)', 'accept → sink', lTicks.map((t) => [y2(t), fmtMsTick(t)]), x2);

  const polyline = (pts: Array<[number, number]>, colour: string, dashed: boolean) => {
    if (pts.length === 0) return;
    const attr = dashed ? ' stroke-dasharray="6 4"' : '';
    out.push(`<polyline fill="none" stroke="${colour}" stroke-width="2"${attr} points="${pts.map(([x, y]) => `${num(x)},${num(y)}`).join(' ')}"/>`);
    for (const [x, y] of pts) out.push(`<circle cx="${num(x)}" cy="${num(y)}" r="3" fill="${colour}"/>`);
  };
  series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length] as string;
    const sorted = [...s.points].sort((a, b) => a.offered - b.offered);
    polyline(sorted.map((p) => [x1(p.offered), y1(p.delivered)]), colour, false);
    const finite = (v: number) => Number.isFinite(v) && v > 0;
    polyline(sorted.filter((p) => finite(p.e2eP50)).map((p) => [x2(p.offered), y2(p.e2eP50)]), colour, false);
    polyline(sorted.filter((p) => finite(p.e2eP99)).map((p) => [x2(p.offered), y2(p.e2eP99)]), colour, true);
    const lx = 80 + i * 180;
    out.push(`<line x1="${lx}" y1="${HEIGHT - 22}" x2="${lx + 24}" y2="${HEIGHT - 22}" stroke="${colour}" stroke-width="3"/>`);
    out.push(`<text x="${lx + 30}" y="${HEIGHT - 18}">${escapeXml(s.name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
