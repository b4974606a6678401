/**
 * A stand-in for the Pub/Sub API at the gRPC level (no emulator runs here): a `@grpc/grpc-js`
 * server implementing `google.pubsub.v1.Publisher/Publish` from the service definition Google's
 * SDK ships, recording what it receives. `answer` makes it fail a publish with a gRPC status.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as loader from '@grpc/proto-loader';

export interface PublishedMessage {
  topic: string;
  data: Buffer;
  attributes: Record<string, string>;
}

export interface PubSubStandIn {
  /** `127.0.0.1:<port>`, as PUBSUB_EMULATOR_HOST takes it. */
  host: string;
  port: number;
  published: PublishedMessage[];
  /** Every Publish call (a retry of the SDK's own would show here). */
  calls: number;
  /** Fails every Publish with this gRPC status from now on (undefined: succeed). */
  failWith(code: grpc.status | undefined, details?: string): void;
  close(): Promise<void>;
}

const require = createRequire(import.meta.url);

/** The directory of an installed package, from its entry point (its exports may hide package.json). */
function packageDir(name: string, from?: string): string {
  const entry = require.resolve(name, from ? { paths: [from] } : undefined);
  const marker = `${join('node_modules', name)}`;
  return entry.slice(0, entry.lastIndexOf(marker) + marker.length);
}

function protoDirs(): string[] {
  // The SDK's own protos, and google-gax's for the google/api annotations they import.
  const pubsub = packageDir('@google-cloud/pubsub');
  return [join(pubsub, 'build', 'protos'), join(packageDir('google-gax', pubsub), 'build', 'protos')];
}

interface PublishRequest {
  topic: string;
  messages: Array<{ data: Buffer; attributes: Record<string, string> }>;
}

export async function startPubSubStandIn(): Promise<PubSubStandIn> {
  const definition = loader.loadSync('google/pubsub/v1/pubsub.proto', { includeDirs: protoDirs(), keepCase: true });
  const api = grpc.loadPackageDefinition(definition) as unknown as {
    google: { pubsub: { v1: { Publisher: { service: grpc.ServiceDefinition } } } };
  };
  const published: PublishedMessage[] = [];
  let failure: { code: grpc.status; details: string } | undefined;
  const state = { calls: 0 };
  const server = new grpc.Server();
  server.addService(api.google.pubsub.v1.Publisher.service, {
    Publish(call: grpc.ServerUnaryCall<PublishRequest, unknown>, callback: grpc.sendUnaryData<unknown>) {
      state.calls++;
      if (failure) return callback({ code: failure.code, details: failure.details });
      const ids: string[] = [];
      for (const message of call.request.messages) {
        published.push({ topic: call.request.topic, data: Buffer.from(message.data), attributes: { ...message.attributes } });
        ids.push(String(published.length));
      }
      callback(null, { message_ids: ids });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
  );
  return {
    host: `127.0.0.1:${port}`,
    port,
    published,
    get calls() {
      return state.calls;
    },
    failWith(code, details = 'refused by the stand-in') {
      failure = code === undefined ? undefined : { code, details };
    },
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}
