import { describe, expect, it } from 'vitest';
import { escapeXml, linearTicks, logTicks, renderSweepSvg, type SweepSeries } from '../../bench/svg.js';

/**
 * A small well-formedness check: every tag closes in order, attributes are quoted, text holds
 * no bare `<` or `&`. Returns the element names in document order.
 */
function parseXml(text: string): string[] {
  const body = text.replace(/^<\?xml[^?]*\?>\s*/, '');
  const stack: string[] = [];
  const elements: string[] = [];
  const token = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/gy;
  let roots = 0;
  while (token.lastIndex < body.length) {
    const start = token.lastIndex;
    const m = token.exec(body);
    if (!m) throw new Error(`not well-formed at offset ${start}: ${body.slice(start, start + 40)}`);
    const [, closing, name, , selfClosing, text] = m;
    if (text !== undefined) {
      if (/&(?!(?:lt|gt|amp|quot|apos);)/.test(text)) throw new Error(`bare & in text: ${text}`);
      if (stack.length === 0 && text.trim()) throw new Error(`text outside the root: ${text}`);
      continue;
    }
    if (closing) {
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open}>`);
      continue;
    }
    if (stack.length === 0 && ++roots > 1) throw new Error('more than one root element');
    elements.push(name as string);
    if (!selfClosing) stack.push(name as string);
  }
  if (stack.length > 0) throw new Error(`unclosed: ${stack.join(', ')}`);
  return elements;
}

const series: SweepSeries[] = [
  {
    name: 'Herald <today> & co',
    points: [
      { offered: 2000, delivered: 1200, e2eP50: 900, e2eP99: 4000 },
      { offered: 500, delivered: 500, e2eP50: 4, e2eP99: 40 },
      { offered: 1000, delivered: 990, e2eP50: 8, e2eP99: 300 },
    ],
  },
  { name: 'Alertmanager', points: [{ offered: 500, delivered: 0, e2eP50: Number.NaN, e2eP99: Number.NaN }, { offered: 1000, delivered: 1000, e2eP50: 2, e2eP99: 50 }] },
];

describe('bench renderSweepSvg', () => {
  it('writes a well-formed SVG document', () => {
    const svg = renderSweepSvg(series, 'sweep "2026-12-01"');
    const elements = parseXml(svg);
    expect(elements[0]).toBe('svg');
    expect(svg).toContain('xmlns="http://www.w3.org/2000/svg"');
    expect(svg).toContain('Herald &lt;today&gt; &amp; co');
    expect(svg).toContain('sweep &quot;2026-12-01&quot;');
  });

  it('draws per target a delivered line and p50 / p99 latency lines, skipping points without latency', () => {
    const svg = renderSweepSvg(series, 't');
    const lines = [...svg.matchAll(/<polyline [^>]*points="([^"]*)"/g)].map((m) => (m[1] as string).split(' '));
    // Herald: 3 delivered, 3 p50, 3 p99; Alertmanager: 2 delivered, 1 p50, 1 p99.
    expect(lines.map((l) => l.length)).toEqual([3, 3, 3, 2, 1, 1]);
    // Ascending offered load: x grows along each line; every coordinate is a finite number inside the canvas.
    for (const line of lines) {
      const xy = line.map((p) => p.split(',').map(Number) as [number, number]);
      for (const [x, y] of xy) {
        expect(x).toBeGreaterThanOrEqual(0);
        expect(x).toBeLessThanOrEqual(960);
        expect(y).toBeGreaterThanOrEqual(0);
        expect(y).toBeLessThanOrEqual(420);
      }
      for (let i = 1; i < xy.length; i++) expect((xy[i] as [number, number])[0]).toBeGreaterThan((xy[i - 1] as [number, number])[0]);
    }
    // A higher latency is drawn higher up (smaller y): Herald's p99 line rises with load.
    const p99 = (lines[2] as string[]).map((p) => Number(p.split(',')[1]));
    expect(p99[0]).toBeGreaterThan(p99[2] as number);
  });

  it('the well-formedness check itself rejects broken documents', () => {
    const svg = renderSweepSvg(series, 't');
    expect(() => parseXml(svg.replace('</svg>', ''))).toThrow(/unclosed/);
    expect(() => parseXml(svg.replace('Herald &lt;today&gt; &amp; co', 'Herald <today> & co'))).toThrow();
    expect(() => parseXml(svg.replace('fill="white"', 'fill=white'))).toThrow(/not well-formed/);
    expect(() => parseXml(`${svg}<svg></svg>`)).toThrow(/root/);
  });

  it('still writes a well-formed document with no points', () => {
    expect(parseXml(renderSweepSvg([], 'empty'))[0]).toBe('svg');
  });
});

describe('bench svg helpers', () => {
  it('escapes the five XML specials', () => {
    expect(escapeXml(`<a href="x">&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;');
  });

  it('linear ticks are round steps from 0 covering the maximum', () => {
    expect(linearTicks(4000)).toEqual([0, 1000, 2000, 3000, 4000]);
    expect(linearTicks(501)).toEqual([0, 200, 400, 600]);
    expect(linearTicks(450)).toEqual([0, 100, 200, 300, 400, 500]);
    expect(linearTicks(0)).toEqual([0]);
  });

  it('log ticks are the powers of ten around the range', () => {
    expect(logTicks(3, 4000)).toEqual([1, 10, 100, 1000, 10_000]);
    expect(logTicks(10, 10)).toEqual([10, 100]);
  });
});
