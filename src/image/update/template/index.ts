/** Go text/template, as Flux renders commit messages: parse once, execute over Go-shaped data. */
import { DEFAULT_LIMITS, execute, type ExecLimits } from './exec.js';
import { FUNCS } from './funcs.js';
import { TemplateError, parseTemplate, type ParsedTemplate } from './parse.js';
import { errorMessage } from '../../../common/errors.js';

export { TemplateError } from './parse.js';
export { GoMap, GoStruct, NO_VALUE } from './values.js';

const FUNCTION_NAMES: ReadonlySet<string> = new Set(FUNCS.keys());

/** Bound on the template text itself (Flux's CRD has none; a manifest field should be small). */
export const MAX_TEMPLATE_LENGTH = 64 * 1024;

export function compileTemplate(source: string, name = 'commit message'): ParsedTemplate {
  if (source.length > MAX_TEMPLATE_LENGTH) {
    throw new TemplateError(`template: ${name}: template is ${source.length} characters, more than ${MAX_TEMPLATE_LENGTH}`);
  }
  return parseTemplate(name, source, FUNCTION_NAMES);
}

/** Renders a parsed template; throws `TemplateError` (never anything else) on failure. */
export function runTemplate(tmpl: ParsedTemplate, data: unknown, limits: ExecLimits = DEFAULT_LIMITS): string {
  try {
    return execute(tmpl, data, FUNCS, limits);
  } catch (e) {
    if (e instanceof TemplateError) throw e;
    // A bug of ours must not take the controller down: report it as a template failure.
    throw new TemplateError(`template: ${tmpl.name}: ${errorMessage(e)}`);
  }
}

export function renderTemplate(source: string, data: unknown, name = 'commit message'): string {
  return runTemplate(compileTemplate(source, name), data);
}
