#!/usr/bin/env node
/**
 * Herald's entry point: `herald <command>` runs one of the CLI's commands, anything else serves.
 * Each side is loaded only when chosen, so a CLI command does not pay for loading the service
 * (Fastify, BullMQ, the Kubernetes client, …), and the service not for the CLI.
 */
import { COMMAND_NAMES } from './cli/commands.js';

const argv = process.argv.slice(2);
if (argv[0] !== undefined && COMMAND_NAMES.has(argv[0])) {
  const { runCommand } = await import('./cli/program.js');
  process.exitCode = await runCommand(argv, {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    env: process.env,
    interactive: process.stdin.isTTY === true,
  });
} else {
  const { startServing } = await import('./serve.js');
  await startServing(argv[0] === 'serve' ? argv.slice(1) : argv, async () => (await import('./cli/program.js')).commandsHelp());
}
