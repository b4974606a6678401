/**
 * How the bench's baseline servers (bare-server, bare-bullmq-server, relay-server) run as
 * processes of their own: listen on a free loopback port, print `port <n>` on stdout for
 * bench/run.ts, and on SIGTERM close the app, then what it holds, then exit.
 */
import type { FastifyInstance } from 'fastify';

export async function servePort(app: FastifyInstance, release: () => Promise<unknown> = async () => undefined): Promise<void> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  process.stdout.write(`port ${typeof address === 'object' && address ? address.port : 0}\n`);
  process.on('SIGTERM', () => {
    void app
      .close()
      .then(release)
      .finally(() => process.exit(0));
  });
}
