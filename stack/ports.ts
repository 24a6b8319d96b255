/**
 * TCP port helpers: is a port free, pick a free one, and the port-in-use check that names the service.
 */
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

/** A port that is free right now on host (the OS picks it). Bind it soon: another process could take it. */
export async function freePort(host = LOCALHOST): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer();
      server.unref();
      server.once('error', reject);
      server.listen({ port: 0, host, exclusive: true }, () => {
        const address = server.address();
        const p = typeof address === 'object' && address ? address.port : 0;
        server.close(() => resolve(p));
      });
    });
    if (port && !recentlyHandedOut.has(port)) {
      recentlyHandedOut.add(port);
      if (recentlyHandedOut.size > 256) recentlyHandedOut.delete(recentlyHandedOut.values().next().value as number);
      return port;
    }
  }
  throw new Error(`could not find a free TCP port on ${host}`);
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
