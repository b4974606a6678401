/**
 * Herald's own listening sockets, which no Provider may reach: a Provider addressed at the
 * admin API (or redirected there) would replay or purge every team's dead letters on each
 * event. The check runs on each new connection's peer address and port, after DNS and before
 * a byte of HTTP is sent, so host names, other spellings of an IP, redirects and DNS rebinding
 * all end at the same check. Loopback providers on other ports (demos, the test suite) are
 * unaffected.
 */
import { isIP } from 'node:net';
import { lookup } from 'node:dns/promises';
import { networkInterfaces } from 'node:os';

export interface OwnListener {
  /** The flag that configures it (`admin-addr`), for the error message. */
  flag: string;
  /** The bound host: an IP, `localhost`, or the any-address (`0.0.0.0`, `::`). */
  host: string;
  port: number;
}

let listeners: readonly OwnListener[] = [];

/** Declares Herald's listeners (main.ts, before any delivery runs). */
export function setOwnListeners(next: readonly OwnListener[]): void {
  listeners = [...next];
}

/** Thrown by the connector; the HTTP layer turns it into a permanent delivery failure. */
export class OwnListenerRefused extends Error {
  override readonly name = 'OwnListenerRefused';
  readonly code = 'HERALD_OWN_LISTENER';
  constructor(readonly listener: OwnListener) {
    // Names the flag, not the address: the address may come from a Secret.
    super(`refused: the provider address reaches Herald's own --${listener.flag} listener; a Provider may not address Herald itself`);
  }
}

/** The listener of Herald's that a connection to `address`:`port` reached, if any. */
export function ownListenerAt(address: string | undefined, port: number | undefined): OwnListener | undefined {
  if (!address || !port) return undefined;
  const peer = normalize(address);
  return listeners.find((l) => {
    if (l.port !== port) return false;
    const bound = normalize(l.host);
    // A listener on loopback or on every interface answers on every local address (and a
    // host name we cannot map to one address is treated the same way, to be safe).
    return bound === peer || ((isLoopbackOrAny(bound) || isIP(bound) === 0) && isLocal(peer));
  });
}

/**
 * For providers that connect without the HTTP layer (NATS, AMQP, gRPC): resolves `host` and
 * throws `OwnListenerRefused` when one of its addresses at `port` is one of Herald's listeners.
 * An unresolvable name is left to the client, which reports it.
 */
export async function refuseOwnListenerAt(host: string, port: number): Promise<void> {
  let addresses: Array<{ address: string }>;
  try {
    addresses = await lookup(host.replace(/^\[|\]$/g, ''), { all: true });
  } catch {
    return;
  }
  for (const { address } of addresses) {
    const listener = ownListenerAt(address, port);
    if (listener) throw new OwnListenerRefused(listener);
  }
}

function normalize(address: string): string {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '').toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(bare);
  return mapped ? (mapped[1] as string) : bare;
}

function isLoopbackOrAny(address: string): boolean {
  return address === 'localhost' || address === '::1' || address === '::' || address === '0.0.0.0' || /^127\./.test(address);
}

function isLocal(address: string): boolean {
  if (isLoopbackOrAny(address)) return true;
  return Object.values(networkInterfaces()).some((nics) => nics?.some((nic) => normalize(nic.address) === address));
}
