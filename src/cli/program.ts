/**
 * The `herald` commands besides `serve` (which `main.ts` runs with its own flags, and which is
 * the default): argument parsing with commander, one line per error before a usage hint, and
 * the exit codes 0 (done), 1 (problems found, or the operation failed), 2 (a usage error).
 */
import { createInterface } from 'node:readline/promises';
import { Command, CommanderError, Option } from 'commander';
import { version } from '../config.js';
import { AdminClient, DEFAULT_SERVER, type ServerOptions } from './client.js';
import { actOnDelivery, formatDelivery, formatDeliveryTable, listDeliveries, showDelivery, type ListOptions } from './deliveries.js';
import { CommandError, EXIT, UsageError } from './errors.js';
import { explainOffline, explainOnline, formatExplanation, readEventFile } from './explain.js';
import { json } from './output.js';
import { fetchResources, findResource, formatDescription, formatResourceTable, kindOf, selectResources } from './resources.js';
import { formatReport, validateDirectory } from './validate.js';

export const EXIT_CODES_HELP = 'Exit codes: 0 done; 1 problems found (validate) or the operation failed (an unreachable server, a delivery not found, a test send that failed); 2 a usage error.';

interface Io {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
  /** Whether a person can answer a question (purge's confirmation). */
  interactive: boolean;
}

/** What a command that ran to its end exits with: 1 when it found problems (validate) or its operation failed (test). */
interface Outcome {
  code: number;
}

type Format = 'table' | 'json';

const outputOption = () => new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table');

function withServer(cmd: Command): Command {
  return cmd
    .option('--server <url>', "Herald's admin API", DEFAULT_SERVER)
    .option('--token <token>', 'admin bearer token (prefer HERALD_ADMIN_TOKEN or --token-file)')
    .option('--token-file <file>', 'file holding the admin bearer token');
}

function buildProgram(io: Io, outcome: Outcome): Command {
  const program = new Command('herald')
    .description('Flux-compatible notification controller; without a command, `herald [serve] FLAGS` runs it (herald serve --help)')
    .version(`herald ${version()}`, '--version', "print Herald's version")
    .helpOption('-h, --help', 'show help')
    .addHelpText('after', `\n${EXIT_CODES_HELP}\n`)
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err, outputError: () => {} });
  program.command('serve').description('run Herald (the default command; see herald serve --help for its flags)');

  const client = (opts: ServerOptions) => AdminClient.from(opts, io.env);
  const print = (format: Format, value: unknown, asText: () => string) => io.out(format === 'json' ? json(value) : asText());

  program
    .command('validate')
    .description('load a manifests directory offline and print every problem and warning (file#document: severity: resource: message)')
    .argument('<dir>', 'directory of Provider, Alert, Receiver and Secret manifests')
    .addOption(outputOption())
    .action(async (dir: string, opts: { output: Format }) => {
      const report = await validateDirectory(dir);
      print(opts.output, report, () => formatReport(report));
      if (!report.ok) outcome.code = EXIT.failed;
    });

  withServer(
    program
      .command('explain')
      .description('say, for each Alert, whether an event matches it and why, and what each Provider would receive')
      .argument('[dir]', 'manifests directory to explain against offline (instead of a running Herald)')
      .requiredOption('--event <file>', 'the Flux event, as JSON')
      .option('--no-cross-namespace-refs', 'offline: Alerts take events from their own namespace only (as serve --no-cross-namespace-refs)')
      .addOption(outputOption()),
  ).action(async (dir: string | undefined, opts: ServerOptions & { event: string; output: Format; crossNamespaceRefs: boolean }, cmd: Command) => {
    if (dir !== undefined && cmd.getOptionValueSource('server') === 'cli') throw new UsageError('give a manifests directory or --server, not both');
    const event = await readEventFile(opts.event);
    const result = dir !== undefined ? await explainOffline(dir, event, { noCrossNamespaceRefs: !opts.crossNamespaceRefs }) : await explainOnline(client(opts), event);
    print(opts.output, result, () => formatExplanation(result));
  });

  withServer(
    program
      .command('test')
      .description('send one test notification through the real provider path and print the answer')
      .argument('<namespace/provider>', 'the Provider')
      .option('--message <text>', 'the test event\'s message')
      .addOption(outputOption()),
  ).action(async (ref: string, opts: ServerOptions & { message?: string; output: Format }) => {
    const [namespace, name] = splitRef(ref);
    const c = client(opts);
    const path = `/providers/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}/test`;
    const { status, json: body } = await c.request('POST', path, opts.message === undefined ? {} : { message: opts.message });
    if (status === 404) throw new CommandError(`no Provider ${ref}`);
    if (status !== 200) throw new CommandError(c.describeFailure(status, body));
    const answer = body as { ok: boolean; status?: number; answer?: string; error?: string; durationMs: number };
    print(opts.output, answer, () =>
      answer.ok
        ? `ok: ${ref} answered${answer.status ? ` ${answer.status}` : ''} in ${answer.durationMs} ms${answer.answer ? `: ${answer.answer}` : ''}\n`
        : `failed: ${ref}: ${answer.error ?? 'no reason given'} (after ${answer.durationMs} ms)\n`,
    );
    if (!answer.ok) outcome.code = EXIT.failed;
  });

  withServer(
    program
      .command('get')
      .description('list Providers, Alerts or Receivers with their Ready status and last delivery, like flux get')
      .argument('<kind>', 'providers, alerts or receivers')
      .option('-n, --namespace <namespace>', 'only this namespace', 'flux-system')
      .option('-A, --all-namespaces', 'every namespace')
      .addOption(outputOption()),
  ).action(async (word: string, opts: ServerOptions & { namespace: string; allNamespaces?: boolean; output: Format }) => {
    const kind = kindOf(word);
    const entries = selectResources(await fetchResources(client(opts)), kind, opts.allNamespaces ? undefined : opts.namespace);
    print(opts.output, entries, () => formatResourceTable(entries, kind));
  });

  withServer(
    program
      .command('describe')
      .description('show one resource: Ready condition, problems, warnings, last delivery')
      .argument('<kind>', 'provider, alert or receiver')
      .argument('<namespace/name>', 'the resource')
      .addOption(outputOption()),
  ).action(async (word: string, ref: string, opts: ServerOptions & { output: Format }) => {
    const kind = kindOf(word);
    splitRef(ref);
    const entry = findResource(await fetchResources(client(opts)), kind, ref);
    print(opts.output, entry, () => formatDescription(entry));
  });

  const deliveries = program.command('deliveries').description('list, show, replay, retry or purge deliveries');
  withServer(
    deliveries
      .command('list')
      .description('list deliveries (dead letters by default)')
      .addOption(new Option('--state <state>', 'which deliveries').choices(['waiting', 'active', 'delayed', 'failed', 'completed']))
      .option('--provider <namespace/name>', 'of this Provider')
      .option('--alert <namespace/name>', 'of this Alert')
      .option('--object <kind/namespace/name>', 'about this object')
      .option('--limit <n>', 'at most this many (1-500, default 100)')
      .option('--cursor <cursor>', 'go on from a previous page')
      .addOption(outputOption()),
  ).action(async (opts: ServerOptions & ListOptions & { output: Format }) => {
    const page = await listDeliveries(client(opts), opts);
    print(opts.output, page, () => formatDeliveryTable(page));
  });

  withServer(deliveries.command('show').description('show one delivery with its attempts, last error and payload').argument('<id>', 'delivery id').addOption(outputOption())).action(
    async (id: string, opts: ServerOptions & { output: Format }) => {
      const delivery = await showDelivery(client(opts), id);
      print(opts.output, delivery, () => formatDelivery(delivery));
    },
  );

  withServer(
    deliveries
      .command('replay')
      .description('replay a dead letter, or every dead letter (of one Provider)')
      .argument('[id]', 'delivery id')
      .option('--all', 'every dead letter')
      .option('--provider <namespace/name>', 'with --all: only this Provider\'s')
      .addOption(outputOption()),
  ).action(async (id: string | undefined, opts: ServerOptions & { all?: boolean; provider?: string; output: Format }) => {
    const c = client(opts);
    exactlyOne(id, opts.all, opts.provider);
    if (id !== undefined) {
      const answer = await actOnDelivery(c, 'POST', `/deliveries/${encodeURIComponent(id)}/replay`, id);
      print(opts.output, answer, () => `replayed ${id}\n`);
      return;
    }
    const query = opts.provider ? `?provider=${encodeURIComponent(opts.provider)}` : '';
    const answer = await c.call<{ replayed: number; skipped: number }>('POST', `/dead-letters/replay${query}`);
    print(opts.output, answer, () => `replayed ${answer.replayed} dead letter${answer.replayed === 1 ? '' : 's'}${answer.skipped ? ` (${answer.skipped} skipped: they changed state meanwhile)` : ''}\n`);
  });

  withServer(deliveries.command('retry-now').description('make a delayed delivery due now, or replay a dead letter').argument('<id>', 'delivery id').addOption(outputOption())).action(
    async (id: string, opts: ServerOptions & { output: Format }) => {
      const answer = await actOnDelivery(client(opts), 'POST', `/deliveries/${encodeURIComponent(id)}/retry-now`, id);
      print(opts.output, answer, () => `${id} is due now\n`);
    },
  );

  withServer(
    deliveries
      .command('purge')
      .description('delete a dead letter, or every dead letter (of one Provider)')
      .argument('[id]', 'delivery id')
      .option('--all', 'every dead letter')
      .option('--provider <namespace/name>', 'with --all: only this Provider\'s')
      .option('--yes', 'do not ask for confirmation (required when not at a terminal)')
      .addOption(outputOption()),
  ).action(async (id: string | undefined, opts: ServerOptions & { all?: boolean; provider?: string; yes?: boolean; output: Format }) => {
    const c = client(opts);
    exactlyOne(id, opts.all, opts.provider);
    const what = id ?? `every dead letter${opts.provider ? ` of ${opts.provider}` : ''}`;
    if (!opts.yes) {
      if (!io.interactive) throw new UsageError(`purging ${what} cannot be undone: add --yes (no terminal to ask at)`);
      if (!(await confirm(`Purge ${what}? This cannot be undone. [y/N] `))) throw new CommandError('not purged');
    }
    const path = id !== undefined ? `/deliveries/${encodeURIComponent(id)}` : `/dead-letters${opts.provider ? `?provider=${encodeURIComponent(opts.provider)}` : ''}`;
    const answer = id !== undefined ? await actOnDelivery(c, 'DELETE', path, id) : await c.call<{ purged: number }>('DELETE', path);
    print(opts.output, answer, () => `purged ${String(answer.purged ?? 0)}\n`);
  });

  return program;
}

function splitRef(ref: string): [string, string] {
  const match = /^([^/\s]+)\/([^/\s]+)$/.exec(ref);
  if (!match) throw new UsageError(`"${ref}" is not NAMESPACE/NAME`);
  return [match[1] as string, match[2] as string];
}

function exactlyOne(id: string | undefined, all: boolean | undefined, provider: string | undefined): void {
  if (id !== undefined && all) throw new UsageError('give a delivery id or --all, not both');
  if (id === undefined && !all) throw new UsageError('give a delivery id, or --all');
  if (provider !== undefined && !all) throw new UsageError('--provider goes with --all');
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

/** The deepest command `argv` names (`deliveries replay`), for the usage hint after an error. */
function commandFor(program: Command, argv: string[]): Command {
  let cmd = program;
  for (const word of argv) {
    if (word.startsWith('-')) break;
    const sub = cmd.commands.find((c) => c.name() === word);
    if (!sub) break;
    cmd = sub;
  }
  return cmd;
}

function fullName(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** The one line after an error: how the command is used, and where the rest is. */
function usageHint(cmd: Command): string {
  const name = fullName(cmd);
  return `Usage: ${name} ${cmd.usage()}; run ${name} --help for more.`;
}

/** Runs a command (`argv` without node and the script); resolves with the exit code. */
export async function runCommand(argv: string[], io: Io): Promise<number> {
  const outcome: Outcome = { code: EXIT.ok };
  const program = buildProgram(io, outcome);
  const failed = (cmd: Command, message: string, usage: boolean): number => {
    io.err(`${fullName(cmd)}: ${message}\n${usage ? `${usageHint(cmd)}\n` : ''}`);
    return usage ? EXIT.usage : EXIT.failed;
  };
  try {
    await program.parseAsync(argv, { from: 'user' });
    return outcome.code;
  } catch (err) {
    const cmd = commandFor(program, argv);
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return EXIT.ok; // --help, --version
      // A command group without its subcommand: commander printed the group's help to stderr.
      if (err.code === 'commander.help') return EXIT.usage;
      return failed(cmd, err.message.replace(/^error: /, ''), true);
    }
    if (err instanceof UsageError) return failed(cmd, err.message, true);
    if (err instanceof CommandError) return failed(cmd, err.message, false);
    throw err;
  }
}

/** The commands, for `herald --help` (which otherwise lists serve's flags). */
export function commandsHelp(): string {
  const program = buildProgram({ out: () => {}, err: () => {}, env: {}, interactive: false }, { code: EXIT.ok });
  const rows = program.commands
    .filter((c) => c.name() !== 'serve')
    .flatMap((c) => (c.commands.length > 0 ? c.commands.map((sub) => [`${c.name()} ${sub.name()} ${sub.usage()}`, sub.description()]) : [[`${c.name()} ${c.usage()}`, c.description()]]));
  const width = Math.max(...rows.map(([usage]) => (usage ?? '').length));
  return [
    'Commands (herald COMMAND --help for each):',
    ...rows.map(([usage, description]) => `  ${(usage ?? '').padEnd(width)}  ${description}`),
    '',
    `Commands that talk to Herald take --server URL (default ${DEFAULT_SERVER}, the admin address) and --token-file FILE, --token or HERALD_ADMIN_TOKEN.`,
    EXIT_CODES_HELP,
    '',
  ].join('\n');
}
