#!/usr/bin/env node
/**
 * Herald's entry point: `herald <command>` runs one of the CLI's commands, anything else serves.
 * Each side is loaded only when chosen, so a CLI command does not pay for loading the service
 * (Fastify, BullMQ, the Kubernetes client, …), and the service not for the CLI.
 */
import { COMMAND_NAMES } from './cli/commands.js';
import type { StartedAhead } from './serve.js';

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
  const serveArgs = argv[0] === 'serve' ? argv.slice(1) : argv;
  // Not kept in a variable of this module: the read holds the first snapshot's objects, which a reload replaces.
  await startAhead(serveArgs).then(async (ahead) => {
    const { startServing } = await import('./serve.js');
    await startServing(serveArgs, async () => (await import('./cli/program.js')).commandsHelp(), ahead);
  });
}

/**
 * Begins, before the service's modules load (most of a second), what would otherwise wait for
 * them: reading and parsing the `--config-dir` manifests (with 10,000 Alerts, most of a second
 * too) and starting the delivery thread, which loads modules of its own; they run side by
 * side. startServing reads the flags again, and reports any mistake in them.
 */
async function startAhead(serveArgs: string[]): Promise<StartedAhead> {
  const [{ loadConfig }, { readDirectoryAhead }] = await Promise.all([import('./config.js'), import('./resources/dir-source.js')]);
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(serveArgs, process.env);
  } catch {
    return {};
  }
  if (typeof config !== 'object') return {};
  const manifests = config.configDir !== undefined ? readDirectoryAhead(config.configDir) : undefined;
  const [{ startDeliveryThreadAhead }, { deliverySettings }] = await Promise.all([import('./delivery/delivery-runtime.js'), import('./delivery-settings.js')]);
  // serve.ts always takes each outcome (the admin API's last delivery per Provider).
  return { manifests, deliveryThread: startDeliveryThreadAhead(deliverySettings(config), true) };
}
