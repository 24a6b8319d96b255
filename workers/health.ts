/**
 * The worker's health endpoint, for a container platform's probes (off unless JUDGELOOP_HEALTH_ADDRESS is set):
 *
 *   GET /healthz  liveness: 200 while the process serves (starting, polling or draining), 503 once the worker
 *                 has failed. A draining worker stays live so the platform lets it finish its grace period.
 *   GET /readyz   readiness: 200 only while the worker polls and Temporal answers its health check; 503 while
 *                 it starts, drains after SIGTERM/SIGINT, or cannot reach Temporal.
 *
 * Both answer JSON ({"status": …, …}). It is a plain node:http server apart from the Prometheus endpoint
 * (JUDGELOOP_METRICS_ADDRESS), which Temporal's Core serves and which knows nothing of the worker's state.
 */
import http from 'node:http';
import net from 'node:net';
import { ObservabilityConfigError } from './logging';

export const HEALTH_ADDRESS_ENV = 'JUDGELOOP_HEALTH_ADDRESS';

export interface HealthAddress {
  host: string;
  port: number;
}

/**
 * JUDGELOOP_HEALTH_ADDRESS as IP:port ([IPv6]:port), like JUDGELOOP_METRICS_ADDRESS; unset or empty:
 * undefined (no endpoint). Throws ObservabilityConfigError naming the variable.
 */
export function parseHealthAddress(raw: string | undefined): HealthAddress | undefined {
  const value = raw?.trim();
  if (!value) return undefined;
  const bad = (why: string) =>
    new ObservabilityConfigError(
      `${HEALTH_ADDRESS_ENV} is "${value}": ${why}. Use IP:port, e.g. 0.0.0.0:8080 (probes from outside the container) or 127.0.0.1:8080; unset it to turn the health endpoint off.`,
    );
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)$/.exec(value);
  if (!m) throw bad(/^\d+$/.test(value) ? 'it has no host' : 'it is not an address with a port');
  const host = m[1] ?? m[2];
  if (m[1] !== undefined ? !net.isIPv6(host) : !net.isIPv4(host)) {
    throw bad(m[1] !== undefined ? `${host} is not an IPv6 address` : `the host must be an IP address, not "${host}"`);
  }
  const port = Number(m[3]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad(`port ${m[3]} is not between 1 and 65535`);
  return { host, port };
}

/** host:port as a URL authority (IPv6 in brackets); the wildcard addresses become loopback, for a local probe. */
export function healthUrl(address: HealthAddress, pathname = '/healthz'): string {
  const host = address.host === '0.0.0.0' ? '127.0.0.1' : address.host === '::' ? '::1' : address.host;
  return `http://${net.isIPv6(host) ? `[${host}]` : host}:${address.port}${pathname}`;
}

export interface ProbeResult {
  ok: boolean;
  /** Shown in the JSON answer: e.g. "polling", "draining", "starting", or why Temporal is not reachable. */
  status: string;
  detail?: Record<string, string>;
}

export interface HealthProbes {
  live(): ProbeResult;
  ready(): Promise<ProbeResult>;
}

/** Before the worker exists: live (it is starting, not stuck), not ready. */
export const STARTING: HealthProbes = {
  live: () => ({ ok: true, status: 'starting' }),
  ready: async () => ({ ok: false, status: 'starting' }),
};

export interface HealthServer {
  /** The address it listens on. */
  address: HealthAddress;
  /** Replaces what the probes ask (the worker's, once it exists). */
  setProbes(probes: HealthProbes): void;
  close(): Promise<void>;
}

export async function startHealthServer(address: HealthAddress, probes: HealthProbes = STARTING): Promise<HealthServer> {
  let current = probes;
  const server = http.createServer((req, res) => {
    const pathname = (req.url ?? '/').split('?')[0];
    const answer = (code: number, body: ProbeResult | { status: string }) => {
      res.writeHead(code, { 'content-type': 'application/json', 'cache-control': 'no-store', connection: 'close' });
      res.end(JSON.stringify(body) + '\n');
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return answer(405, { status: 'method not allowed' });
    if (pathname === '/healthz' || pathname === '/livez') {
      const live = current.live();
      return answer(live.ok ? 200 : 503, live);
    }
    if (pathname === '/readyz') {
      current.ready().then(
        (ready) => answer(ready.ok ? 200 : 503, ready),
        (err: unknown) => answer(503, { ok: false, status: `readiness check failed: ${(err as Error).message}` }),
      );
      return;
    }
    answer(404, { status: 'not found: GET /healthz or /readyz' });
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) =>
      reject(
        new ObservabilityConfigError(
          `the health endpoint cannot listen on ${HEALTH_ADDRESS_ENV}=${address.host}:${address.port} (${err.code ?? err.message}); choose another port or unset the variable.`,
        ),
      );
    server.once('error', onError);
    server.listen(address.port, address.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  return {
    address,
    setProbes(next) {
      current = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        // A probe's keep-alive socket must not hold the process open after the worker stopped.
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
