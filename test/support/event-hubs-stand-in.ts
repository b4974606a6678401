/**
 * A stand-in for an Azure Event Hubs namespace at the AMQP 1.0 level, served with `rhea`: it
 * answers the claims-based-security `put-token` requests on `$cbs` (checking each SAS token's
 * HMAC-SHA256 signature with the namespace's key, as Event Hubs does, and answering 401 when it
 * does not verify), accepts sender links to its hub, and unpacks the batches it receives (the
 * batch message format, each data section an encoded message) into the events' bodies.
 */
import { createHmac } from 'node:crypto';
import type { AddressInfo, Server } from 'node:net';
import rhea, { type Message, type Sender } from 'rhea';

export interface SasToken {
  resource: string;
  keyName: string;
  expiry: number;
  verified: boolean;
}

export interface EventHubsStandIn {
  port: number;
  /** A connection string to this stand-in (plain AMQP, as for the emulator). */
  connectionString(opts?: { hub?: string; keyName?: string; key?: string }): string;
  /** The bodies of the events received, per hub (link target). */
  events: Array<{ hub: string; body: Buffer }>;
  tokens: SasToken[];
  close(): Promise<void>;
}

/** Parses `SharedAccessSignature sr=…&sig=…&se=…&skn=…` and checks `sig` over `<sr>\n<se>`. */
function checkSas(token: string, keys: Record<string, string>): SasToken {
  const params = new URLSearchParams(token.replace(/^SharedAccessSignature /, '').split('&').map((p) => p.replace(/\+/g, '%2B')).join('&'));
  const resource = params.get('sr') ?? '';
  const keyName = params.get('skn') ?? '';
  const expiry = Number(params.get('se'));
  const key = keys[keyName];
  const expected = key ? createHmac('sha256', key).update(`${encodeURIComponent(resource)}\n${expiry}`).digest('base64') : undefined;
  return { resource, keyName, expiry, verified: expected !== undefined && expected === params.get('sig') };
}

export async function startEventHubsStandIn(opts: { keys: Record<string, string>; hubs: string[] }): Promise<EventHubsStandIn> {
  const container = rhea.create_container({ id: 'event-hubs-stand-in' });
  container.sasl_server_mechanisms.enable_anonymous();
  const events: EventHubsStandIn['events'] = [];
  const tokens: SasToken[] = [];
  const cbsReplies = new Map<unknown, Sender>();

  container.on('sender_open', (ctx) => {
    ctx.sender!.set_source(ctx.sender!.source);
    cbsReplies.set(ctx.connection, ctx.sender!);
  });
  container.on('receiver_open', (ctx) => {
    const address = (ctx.receiver!.target as { address?: string } | undefined)?.address ?? '';
    if (address !== '$cbs' && !opts.hubs.includes(address)) {
      ctx.receiver!.close({ condition: 'amqp:not-found', description: `The messaging entity '${address}' could not be found.` });
      return;
    }
    ctx.receiver!.set_target(ctx.receiver!.target);
  });
  container.on('message', (ctx) => {
    const address = (ctx.receiver!.target as { address?: string } | undefined)?.address ?? '';
    const message = ctx.message as Message;
    if (address === '$cbs') {
      const token = checkSas(String(message.body), opts.keys);
      tokens.push(token);
      const status = token.verified ? 202 : 401;
      cbsReplies.get(ctx.connection)?.send({
        body: '',
        to: message.reply_to,
        correlation_id: message.message_id,
        application_properties: { 'status-code': status, 'status-description': token.verified ? 'Accepted' : 'InvalidSignature: The token has an invalid signature.' },
      });
      return;
    }
    // A batch arrives in its raw form: decode it, then each of its data sections.
    const raw = message as unknown as Buffer;
    const batch = Buffer.isBuffer(raw) ? rhea.message.decode(raw) : message;
    const sections = Array.isArray(batch.body) ? batch.body : [batch.body];
    for (const section of sections as Array<{ content: Buffer }>) {
      const inner = rhea.message.decode(Buffer.from(section.content));
      const body = inner.body as { content?: Buffer } | Buffer;
      events.push({ hub: address, body: Buffer.isBuffer(body) ? body : Buffer.from(body.content ?? []) });
    }
  });

  const server = container.listen({ port: 0, host: '127.0.0.1' }) as unknown as Server;
  await new Promise((r) => server.on('listening', r));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    events,
    tokens,
    connectionString({ hub = opts.hubs[0], keyName = Object.keys(opts.keys)[0], key = Object.values(opts.keys)[0] } = {}) {
      return `Endpoint=sb://127.0.0.1:${port};SharedAccessKeyName=${keyName};SharedAccessKey=${key};EntityPath=${hub};UseDevelopmentEmulator=true`;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
