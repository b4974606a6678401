#!/usr/bin/env node
/**
 * Herald's entry point: `herald <command>` runs one of the CLI's commands, anything else serves.
 * Each side is loaded only when chosen, so a CLI command does not pay for loading the service
 * (Fastify, BullMQ, the Kubernetes client, …), and the service not for the CLI.
 */
import { COMMAND_NAMES } from './cli/commands.js';
import type { DirectoryReadAhead } from './resources/dir-source.js';

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
  await readManifestsAhead(serveArgs).then(async (manifestsAhead) => {
    const { startServing } = await import('./serve.js');
    await startServing(serveArgs, async () => (await import('./cli/program.js')).commandsHelp(), manifestsAhead);
  });
}

/**
 * Begins reading and parsing the `--config-dir` manifests (on a worker thread) before the
 * service's modules load: with 10,000 Alerts each takes most of a second, and they run side by
 * side. startServing reads the flags again, and reports any mistake in them.
 */
async function readManifestsAhead(serveArgs: string[]): Promise<DirectoryReadAhead | undefined> {
  const [{ loadConfig }, { readDirectoryAhead }] = await Promise.all([import('./config.js'), import('./resources/dir-source.js')]);
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(serveArgs, process.env);
  } catch {
    return undefined;
  }
  return typeof config === 'object' && config.configDir !== undefined ? readDirectoryAhead(config.configDir) : undefined;
}
