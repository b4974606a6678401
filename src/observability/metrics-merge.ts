/**
 * Renders a registry with metrics recorded elsewhere in the process (the delivery thread's
 * registry, as `getMetricsAsJSON` gives it) added in: a series both have is summed (or combined
 * by the metric's own aggregator), the rest is rendered as is. Only the metrics the other side
 * recorded are aggregated, so a scrape costs the registry's own rendering plus that.
 */
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue, type Registry } from 'prom-client';

export type MetricsJson = Array<MetricObjectWithValues<MetricValue<string>>>;

export async function renderMerged(registry: Registry, others: readonly MetricsJson[]): Promise<string> {
  const recordedElsewhere = new Set(others.flatMap((metrics) => metrics.map((metric) => metric.name)));
  if (recordedElsewhere.size === 0) return registry.metrics();
  const own: MetricsJson = [];
  for (const name of recordedElsewhere) {
    const metric = registry.getSingleMetric(name);
    if (metric) own.push((await metric.get()) as MetricObjectWithValues<MetricValue<string>>);
  }
  const merged = AggregatorRegistry.aggregate([own, ...others]);
  const names = [...registry.getMetricsAsArray().map((metric) => metric.name)];
  for (const name of recordedElsewhere) if (!registry.getSingleMetric(name)) names.push(name);
  const parts = await Promise.all(
    names.map((name) => (merged.getSingleMetric(name) ? merged : registry).getSingleMetricAsString(name)),
  );
  return `${parts.join('\n\n')}\n`;
}
