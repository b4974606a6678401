/**
 * `spec.resourceFilter` and `spec.resources[].filter`: CEL expressions over `res` (the target's
 * metadata, as Flux reads it) and `req` (the request body when it is JSON), which must return
 * a bool. Compiled once per Receiver; an expression that does not compile or cannot return a
 * bool makes the Receiver not Ready, as in Flux.
 */
import { Environment, Optional } from '@marcbachmann/cel-js';

/** Parse-time bounds: a manifest is configuration, but nothing that grows goes unbounded. */
const LIMITS = { maxAstNodes: 10_000, maxDepth: 100, maxListElements: 1_000, maxMapEntries: 1_000, maxCallArguments: 32 };

// Flux's CEL environment has cel-go's list extensions; its docs use `first()` and `last()`.
const environment = new Environment({ enableOptionalTypes: true, limits: LIMITS })
  .registerVariable('res', 'map')
  .registerVariable('req', 'map')
  .registerFunction('list.first(): optional<dyn>', (list: unknown[]) => (list.length > 0 ? Optional.of(list[0]) : Optional.none()))
  .registerFunction('list.last(): optional<dyn>', (list: unknown[]) =>
    list.length > 0 ? Optional.of(list[list.length - 1]) : Optional.none(),
  );

export interface FilterVariables {
  res: Record<string, unknown>;
  req: Record<string, unknown>;
}

export type ResourceFilter = (vars: FilterVariables) => boolean;

export type CompiledFilter = { ok: true; filter: ResourceFilter } | { ok: false; error: string };

/** The first line of a CEL error: the rest is a caret drawing of the expression. */
function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
}

export function compileFilter(expression: string): CompiledFilter {
  let evaluate: ReturnType<typeof environment.parse>;
  try {
    evaluate = environment.parse(expression);
  } catch (error) {
    return { ok: false, error: firstLine(error) };
  }
  const checked = evaluate.check();
  if (!checked.valid) return { ok: false, error: firstLine(checked.error) };
  // `dyn` (say `req.flag`) may still be a bool at run time; anything else never is.
  if (checked.type !== 'bool' && checked.type !== 'dyn') {
    return { ok: false, error: `the expression must return a bool, not ${checked.type}` };
  }
  return {
    ok: true,
    filter: (vars) => {
      const result: unknown = evaluate(vars as unknown as Record<string, unknown>);
      if (typeof result !== 'boolean') throw new Error(`the expression returned ${typeof result}, not a bool`);
      return result;
    },
  };
}

/** Whether every filter given accepts the object (no filter: accepted), the way Flux stacks them. */
export function acceptsAll(filters: readonly ResourceFilter[], vars: FilterVariables): boolean {
  return filters.every((filter) => filter(vars));
}

/** Evaluation errors, reduced to their first line so a log stays one line. */
export function filterErrorMessage(error: unknown): string {
  return firstLine(error);
}
