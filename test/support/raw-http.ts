/** HTTP by hand over a socket, for what a fetch cannot show reliably. */
import { connect } from 'node:net';

/**
 * The status a server answers a POST to `url` declaring `declaredBytes` of JSON, read before any
 * of the body is sent. A server that refuses a declared length answers and closes at once; a
 * client still writing that body may see its write fail (EPIPE) before it reads the answer, so
 * a fetch of a large body sees that refusal only sometimes. Rejects if no answer comes within
 * 10 s (a server waiting for the body never answers).
 */
export function statusBeforeBody(url: string, declaredBytes: number): Promise<number> {
  const { hostname, port, pathname, search } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write(`POST ${pathname}${search} HTTP/1.1\r\nhost: ${hostname}:${port}\r\ncontent-type: application/json\r\ncontent-length: ${declaredBytes}\r\n\r\n`);
    });
    let head = '';
    socket.setEncoding('latin1');
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')));
    socket.on('data', (chunk: string) => {
      head += chunk;
      const status = /^HTTP\/1\.1 (\d{3})/.exec(head);
      if (!status) return;
      socket.destroy();
      resolve(Number(status[1]));
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`closed without an answer: ${JSON.stringify(head)}`)));
  });
}
