/**
 * The CEL environment Flux's expressions are written for, built on `@marcbachmann/cel-js`:
 * the listed variables as maps, optional types, and cel-go's list extensions `first()` and
 * `last()` (Flux's docs use `uid.split('-').first().value()`). Shared by the Receiver filters
 * and the commit-status providers' `spec.commitStatusExpr`.
 */
import type { Environment } from '@marcbachmann/cel-js';
import { errorMessage } from './errors.js';
import { onFirstUse } from './on-first-use.js';

/** Loaded by the first expression compiled: most Heralds have none, in either thread. */
const cel = onFirstUse<typeof import('@marcbachmann/cel-js')>('@marcbachmann/cel-js');

/** Parse-time bounds: a manifest is configuration, but nothing that grows goes unbounded. */
export const CEL_LIMITS = { maxAstNodes: 10_000, maxDepth: 100, maxListElements: 1_000, maxMapEntries: 1_000, maxCallArguments: 32 };

/** The environment with `variables`, built on the first call. */
export function fluxCelEnvironment(...variables: string[]): () => Environment {
  let env: Environment | undefined;
  return () => (env ??= buildEnvironment(variables));
}

function buildEnvironment(variables: string[]): Environment {
  const { Environment, Optional } = cel();
  const env = new Environment({ enableOptionalTypes: true, limits: CEL_LIMITS })
    .registerFunction('list.first(): optional<dyn>', (list: unknown[]) => (list.length > 0 ? Optional.of(list[0]) : Optional.none()))
    .registerFunction('list.last(): optional<dyn>', (list: unknown[]) => (list.length > 0 ? Optional.of(list[list.length - 1]) : Optional.none()));
  for (const name of variables) env.registerVariable(name, 'map');
  return env;
}

/**
 * A CEL error in one line: its first line (the rest is a caret drawing of the expression),
 * with the 1-based column the library points at, when it points at one.
 */
export function celErrorMessage(error: unknown): string {
  const first = errorMessage(error).split('\n')[0] ?? '';
  const pos = (error as { node?: { pos?: unknown } } | null)?.node?.pos;
  return typeof pos === 'number' ? `${first} (at column ${pos + 1})` : first;
}
