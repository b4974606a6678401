/**
 * Renders a registry with metrics recorded elsewhere in the process (the delivery thread's
 * registry, as `getMetricsAsJSON` gives it) added in: a series both have is summed, the rest is
 * rendered as is. Only the metrics the other side recorded are merged, so a scrape costs the
 * registry's own rendering plus that.
 *
 * The merge is a sum per series, written out here in the text format, rather than prom-client's
 * `AggregatorRegistry`, which builds a registry and its metrics anew on every scrape (about a
 * millisecond of a scrape's few). Every metric the delivery thread records is a counter, a
 * histogram or a gauge that adds up across threads (prom-client's default aggregator, `sum`).
 */
import type { MetricObjectWithValues, MetricValue, Registry } from 'prom-client';

export type MetricsJson = Array<MetricObjectWithValues<MetricValue<string>>>;

export async function renderMerged(registry: Registry, others: readonly MetricsJson[]): Promise<string> {
  const recordedElsewhere = new Map<string, MetricsJson>();
  for (const metrics of others) {
    for (const metric of metrics) recordedElsewhere.set(metric.name, [...(recordedElsewhere.get(metric.name) ?? []), metric]);
  }
  if (recordedElsewhere.size === 0) return registry.metrics();
  const names = registry.getMetricsAsArray().map((metric) => metric.name);
  for (const name of recordedElsewhere.keys()) if (!registry.getSingleMetric(name)) names.push(name);
  const parts = await Promise.all(
    names.map(async (name) => {
      const elsewhere = recordedElsewhere.get(name);
      if (!elsewhere) return registry.getSingleMetricAsString(name);
      const own = registry.getSingleMetric(name);
      return summedExposition(own ? [(await own.get()) as MetricObjectWithValues<MetricValue<string>>, ...elsewhere] : elsewhere);
    }),
  );
  return `${parts.join('\n\n')}\n`;
}

/** One metric's copies (same name, help and type) as one, series by series summed, in the text format as prom-client writes it. */
function summedExposition(copies: MetricsJson): string {
  const [{ name, help, type }] = copies as [MetricObjectWithValues<MetricValue<string>>];
  const series = new Map<string, number>();
  for (const copy of copies) {
    // A histogram's series name their metric (`_bucket`, `_sum`, `_count`).
    for (const { metricName, labels, value } of copy.values as Array<MetricValue<string> & { metricName?: string }>) {
      const key = `${metricName ?? name}${labelSet(labels)}`;
      series.set(key, (series.get(key) ?? 0) + value);
    }
  }
  const lines = [`# HELP ${name} ${escape(help)}`, `# TYPE ${name} ${type}`];
  for (const [key, value] of series) lines.push(`${key} ${valueText(value)}`);
  return lines.join('\n');
}

function labelSet(labels: Partial<Record<string, string | number>>): string {
  const pairs = Object.entries(labels).map(([label, value]) => `${label}="${typeof value === 'string' ? escape(value).replace(/"/g, '\\"') : value}"`);
  return pairs.length > 0 ? `{${pairs.join(',')}}` : '';
}

function escape(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function valueText(value: number): string {
  if (Number.isNaN(value)) return 'Nan';
  if (!Number.isFinite(value)) return value < 0 ? '-Inf' : '+Inf';
  return `${value}`;
}
