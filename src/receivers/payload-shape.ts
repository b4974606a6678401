/**
 * The payload checks Flux makes for registries that sign nothing (dockerhub, quay, acr, the
 * data inside a gcr push): the body must decode into the sender's payload type. Go's decoder
 * accepts a missing field or `null` anywhere, and refuses a value of the wrong JSON type.
 */
export type Shape = 'string' | 'timestamp' | { list: Shape } | { [field: string]: Shape };

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/i;

/** The first field that does not fit, as a path (`push_data.tag`), or undefined when it fits. */
export function shapeMismatch(value: unknown, shape: Shape, path = 'payload'): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (shape === 'string') return typeof value === 'string' ? undefined : path;
  if (shape === 'timestamp') return typeof value === 'string' && RFC3339.test(value) ? undefined : path;
  if ('list' in shape && typeof shape.list !== 'undefined' && Object.keys(shape).length === 1) {
    if (!Array.isArray(value)) return path;
    for (const [i, item] of value.entries()) {
      const wrong = shapeMismatch(item, shape.list as Shape, `${path}[${i}]`);
      if (wrong) return wrong;
    }
    return undefined;
  }
  if (typeof value !== 'object' || Array.isArray(value)) return path;
  const record = value as Record<string, unknown>;
  for (const [field, fieldShape] of Object.entries(shape as Record<string, Shape>)) {
    const wrong = shapeMismatch(record[field], fieldShape, `${path}.${field}`);
    if (wrong) return wrong;
  }
  return undefined;
}

export const DOCKERHUB_PAYLOAD: Shape = { push_data: { tag: 'string' }, repository: { repo_url: 'string' } };
export const QUAY_PAYLOAD: Shape = { docker_url: 'string', updated_tags: { list: 'string' } };
export const ACR_PAYLOAD: Shape = { action: 'string', target: { repository: 'string', tag: 'string' } };
export const NEXUS_PAYLOAD: Shape = { action: 'string', repositoryName: 'string' };
export const PUBSUB_PUSH: Shape = {
  message: { data: 'string', messageId: 'string', publishTime: 'timestamp', subscription: 'string' },
};
export const GCR_DATA: Shape = { action: 'string', digest: 'string', tag: 'string' };
