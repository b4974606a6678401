/**
 * A forward proxy that tunnels every CONNECT to one local port, so that a request for
 * `http://<any host>/…` sent through the shared layer's proxy support lands on a local sink
 * with its original Host header.
 */
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';

export interface Tunnel {
  url: string;
  /** How many CONNECTs it tunnelled. */
  connects: number;
  close(): Promise<void>;
}

export async function startTunnelTo(port: number): Promise<Tunnel> {
  const proxy: Server = createServer((_req, res) => res.writeHead(405).end());
  const tunnel = { url: '', connects: 0, close: async () => undefined } as Tunnel;
  proxy.on('connect', (_req, client, head) => {
    tunnel.connects++;
    const upstream = connect(port, '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  tunnel.url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  tunnel.close = () =>
    new Promise<void>((resolve) => {
      proxy.closeAllConnections();
      proxy.close(() => resolve());
    });
  return tunnel;
}
