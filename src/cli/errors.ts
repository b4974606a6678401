/**
 * How a command fails: a `UsageError` is the operator's mistake in the command line (exit 2,
 * followed by a usage hint); a `CommandError` is the operation failing (exit 1).
 */
export class UsageError extends Error {}

export class CommandError extends Error {}

/** Exit codes of every command: documented in `herald --help` and the README. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;
