import { createHash } from 'node:crypto';

export const WEBHOOK_PATH_PREFIX = '/hook/';

/**
 * The path Flux serves a Receiver on: `/hook/` and the hex sha256 of the token, the name and
 * the namespace written one after the other, with no separator.
 */
export function webhookPath(token: string, name: string, namespace: string): string {
  return WEBHOOK_PATH_PREFIX + createHash('sha256').update(token + name + namespace, 'utf8').digest('hex');
}
