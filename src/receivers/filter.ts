/**
 * `spec.resourceFilter` and `spec.resources[].filter`: CEL expressions over `res` (the target's
 * metadata, as Flux reads it) and `req` (the request body when it is JSON), which must return
 * a bool. Compiled once per Receiver; an expression that does not compile or cannot return a
 * bool makes the Receiver not Ready, as in Flux.
 */
import type { Environment } from '@marcbachmann/cel-js';
import { errorMessage } from '../common/errors.js';
import { fluxCelEnvironment as fluxEnvironment } from '../common/cel.js';

const environment = fluxEnvironment('res', 'req');
// `generic-oidc` Receivers also give their filters the verified token's claims.
const environmentWithClaims = fluxEnvironment('res', 'req', 'claims');
// A generic-oidc provider's variables and validations read `claims` and the variables before them.
const claimsEnvironment = fluxEnvironment('claims', 'vars');

export type FilterVariables = {
  res: Record<string, unknown>;
  req: Record<string, unknown>;
  claims?: Record<string, unknown>;
};

/** A compiled bool expression, given its variables by name. */
export type ResourceFilter = (vars: Record<string, unknown>) => boolean;

export type CompiledFilter = { ok: true; filter: ResourceFilter } | { ok: false; error: string };

/** The first line of a CEL error: the rest is a caret drawing of the expression. */
function firstLine(error: unknown): string {
  return errorMessage(error).split('\n')[0] ?? '';
}

export function compileFilter(expression: string, options: { withClaims?: boolean } = {}): CompiledFilter {
  return compileBoolean(options.withClaims ? environmentWithClaims() : environment(), expression);
}

/** A `generic-oidc` validation: a bool over `claims` and `vars`. */
export function compileClaimsValidation(expression: string): CompiledFilter {
  return compileBoolean(claimsEnvironment(), expression);
}

export type CompiledExpression = { ok: true; evaluate: (vars: Record<string, unknown>) => unknown } | { ok: false; error: string };

/** A `generic-oidc` variable: any value, over `claims` and the variables before it. */
export function compileClaimsVariable(expression: string): CompiledExpression {
  try {
    const evaluate = claimsEnvironment().parse(expression);
    const checked = evaluate.check();
    if (!checked.valid) return { ok: false, error: firstLine(checked.error) };
    return { ok: true, evaluate: (vars) => evaluate(vars) as unknown };
  } catch (error) {
    return { ok: false, error: firstLine(error) };
  }
}

function compileBoolean(env: Environment, expression: string): CompiledFilter {
  let evaluate: ReturnType<Environment['parse']>;
  try {
    evaluate = env.parse(expression);
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
      const result: unknown = evaluate(vars);
      if (typeof result !== 'boolean') throw new Error(`the expression returned ${typeof result}, not a bool`);
      return result;
    },
  };
}

/** Evaluation errors, reduced to their first line so a log stays one line. */
export function filterErrorMessage(error: unknown): string {
  return firstLine(error);
}
