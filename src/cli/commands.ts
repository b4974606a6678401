/** The CLI's commands: a first argument naming one runs it (src/main.ts); anything else serves. */
export const COMMAND_NAMES: ReadonlySet<string> = new Set(['validate', 'explain', 'test', 'get', 'describe', 'deliveries', 'help']);
