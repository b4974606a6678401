/**
 * `spec.commitStatusExpr`: a CEL expression over `event` (the notification), `alert` and
 * `provider` (the objects, as Flux hands them to cel-go) whose string result replaces the default
 * commit status id. Flux compiles it per event and fails the event when it does not compile;
 * Herald compiles it once in `prepare`, so a broken expression makes the Provider not Ready
 * instead, and evaluates it per event in `send`.
 *
 * Bounds: the expression's length (`MAX_EXPRESSION_LENGTH`) and the parse-time AST limits of
 * `CEL_LIMITS`; the library offers no cost or time budget, and CEL has no loops beyond macros
 * over the (bounded) event and objects, so an evaluation is bounded by the expression's size
 * times the input's. The result is bounded by `MAX_STATUS_ID_LENGTH`.
 *
 * The variables never hold a Secret's value: `provider.spec` is the manifest's spec, not the
 * resolved address or credentials, so an evaluation error cannot carry one.
 */
import type { Environment } from '@marcbachmann/cel-js';
import type { FluxEvent } from '../../src/events/event.js';
import { celErrorMessage, fluxCelEnvironment } from '../../src/common/cel.js';
import { DeliveryError } from '../http.js';
import type { AlertIdentity, ProviderConfig } from '../types.js';

/** Longer than any id expression Flux's docs show many times over; a manifest is not a program. */
export const MAX_EXPRESSION_LENGTH = 4096;
/** A status id longer than this is no id any git host accepts (GitHub's context: 255 characters). */
export const MAX_STATUS_ID_LENGTH = 1024;

const environment = fluxCelEnvironment('event', 'alert', 'provider');

/** The compiled expression: the status id for one event, or a non-retryable DeliveryError. */
export type StatusIdExpression = (event: FluxEvent, config: ProviderConfig, alert: AlertIdentity | undefined) => string;

export type CompiledStatusIdExpression = { ok: true; expression: StatusIdExpression } | { ok: false; problem: string };

const FIELD = 'spec.commitStatusExpr';

export function compileStatusIdExpression(source: string): CompiledStatusIdExpression {
  if (source.length > MAX_EXPRESSION_LENGTH) {
    return { ok: false, problem: `${FIELD} is ${source.length} characters long, more than the ${MAX_EXPRESSION_LENGTH} allowed` };
  }
  let evaluate: ReturnType<Environment['parse']>;
  try {
    evaluate = environment().parse(source);
  } catch (error) {
    return { ok: false, problem: `${FIELD} does not compile: ${celErrorMessage(error)}` };
  }
  const checked = evaluate.check();
  if (!checked.valid) return { ok: false, problem: `${FIELD} does not compile: ${celErrorMessage(checked.error)}` };
  // Flux's expression is compiled with a string output type; `dyn` (say `event.metadata.x`)
  // may still be a string when evaluated, so only a type that never is one is refused here.
  if (checked.type !== 'string' && checked.type !== 'dyn') {
    return { ok: false, problem: `${FIELD} must return a string, not ${checked.type}` };
  }
  return {
    ok: true,
    expression: (event, config, alert) => {
      let result: unknown;
      try {
        result = evaluate(variables(event, config, alert));
      } catch (error) {
        throw new DeliveryError(`failed to evaluate ${FIELD} for the event: ${celErrorMessage(error)}`, false);
      }
      if (typeof result !== 'string') {
        throw new DeliveryError(`${FIELD} returned ${celTypeOf(result)} for the event, not a string`, false);
      }
      if (result === '') throw new DeliveryError(`${FIELD} returned an empty string for the event`, false);
      if (result.length > MAX_STATUS_ID_LENGTH) {
        throw new DeliveryError(`${FIELD} returned ${result.length} characters for the event, more than the ${MAX_STATUS_ID_LENGTH} allowed`, false);
      }
      return result;
    },
  };
}

/**
 * The objects as Flux converts them to maps: the event as sent on the wire, the Provider and
 * the Alert with their API version, kind and metadata (the Provider's spec too; the Alert's
 * when known). Fields an object does not have are absent, as in Flux's converted maps.
 */
function variables(event: FluxEvent, config: ProviderConfig, alert: AlertIdentity | undefined): Record<string, unknown> {
  return {
    event,
    provider: {
      apiVersion: 'notification.toolkit.fluxcd.io/v1beta3',
      kind: 'Provider',
      metadata: { name: config.name, namespace: config.namespace, uid: config.uid },
      spec: config.spec,
    },
    alert: {
      apiVersion: 'notification.toolkit.fluxcd.io/v1beta3',
      kind: 'Alert',
      metadata: alert ? { name: alert.name, namespace: alert.namespace, ...(alert.uid ? { uid: alert.uid } : {}) } : {},
      ...(alert?.spec ? { spec: alert.spec } : {}),
    },
  };
}

/** The CEL type of a non-string result, with its article, for the error. */
function celTypeOf(value: unknown): string {
  if (typeof value === 'bigint') return 'an int';
  if (typeof value === 'number') return 'a double';
  if (typeof value === 'boolean') return 'a bool';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'a map' : `a ${typeof value}`;
}
