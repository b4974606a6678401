/**
 * The image automation kinds, and whether a source holds any of them: asked on every change of
 * the resources, without loading the controller's modules.
 */
import type { StoredObject } from '../api/types.js';
import { IMAGE_GROUP } from './types.js';

export type ImageKind = 'ImageRepository' | 'ImagePolicy' | 'ImageUpdateAutomation';
export const IMAGE_KINDS: readonly ImageKind[] = ['ImageRepository', 'ImagePolicy', 'ImageUpdateAutomation'];

export function holdsImageObjects(source: { objectsOf(group: string, kind: string): StoredObject[] }): boolean {
  return IMAGE_KINDS.some((kind) => source.objectsOf(IMAGE_GROUP, kind).length > 0);
}
