/**
 * Leaf helpers any layer may import (this folder imports nothing of Herald's).
 */

/** The message of a thrown value: an Error's message, anything else as a string. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
