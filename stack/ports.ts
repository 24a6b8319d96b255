/**
 * TCP port helpers: is a port free, pick a free one, and the port-in-use check that names the service.
 */
import fs from 'node:fs';
import net from 'node:net';
import { PortInUseError, StackError } from './errors';

export const LOCALHOST = '127.0.0.1';

/** True when nothing listens on host:port (we could bind it ourselves). */
export function isPortFree(port: number, host = LOCALHOST): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') resolve(false);
      else reject(err);
    });
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** True when something accepts TCP connections on host:port. */
export function isListening(port: number, host = LOCALHOST, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

// Ports handed out recently by this process: two freePort() calls before either port is bound must differ.
const recentlyHandedOut = new Set<number>();

/** Linux's range for ephemeral ports (`port: 0` binds and outgoing connections); the usual default elsewhere. */
export function ephemeralPortRange(file = '/proc/sys/net/ipv4/ip_local_port_range'): [number, number] {
  try {
    const [lo, hi] = fs.readFileSync(file, 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(lo) && Number.isInteger(hi) && lo > 0 && hi >= lo && hi <= 65535) return [lo, hi];
  } catch {
    /* not Linux, or not readable */
  }
  return [32768, 60999];
}

/**
 * Where freePort looks: below the ephemeral range (or above it when it starts too low). A port the kernel
 * hands out for `port: 0` can be taken again by anything that asks the kernel, like the Temporal dev server
 * opening its internal ports between our choosing a port and the S3 server binding it (a flake seen in
 * stack.test.ts). Ports outside that range are only ever taken by someone naming them.
 */
export function portSearchRange([lo, hi]: [number, number]): [number, number] {
  if (lo - 1 >= 20_000 + 1000) return [20_000, lo - 1];
  if (hi + 1 <= 65_535 - 1000) return [hi + 1, 65_535];
  return [10_000, 65_535];
}

/** A port that is free right now on host, outside the ephemeral range (see portSearchRange). Bind it soon. */
export async function freePort(host = LOCALHOST): Promise<number> {
  const [lo, hi] = portSearchRange(ephemeralPortRange());
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = lo + Math.floor(Math.random() * (hi - lo + 1));
    if (recentlyHandedOut.has(port) || !(await isPortFree(port, host))) continue;
    recentlyHandedOut.add(port);
    if (recentlyHandedOut.size > 256) recentlyHandedOut.delete(recentlyHandedOut.values().next().value as number);
    return port;
  }
  throw new Error(`could not find a free TCP port on ${host} between ${lo} and ${hi}`);
}

/** Throws a PortInUseError naming the service and the flag that moves it unless host:port is free. */
export async function assertPortFree(
  port: number,
  service: string,
  flag?: string,
  host = LOCALHOST,
  detail?: string,
): Promise<void> {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new StackError(`${port} is not a valid TCP port for the ${service}`, flag ? `Pass ${flag} <1-65535>.` : undefined);
  }
  if (!(await isPortFree(port, host))) throw new PortInUseError(port, service, flag, host, detail);
}
