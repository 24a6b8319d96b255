/**
 * The container's HEALTHCHECK (images/worker/Dockerfile): `node dist/worker/workers/healthcheck.js [/path]`
 * asks the worker's own health endpoint (JUDGELOOP_HEALTH_ADDRESS, on loopback when it listens on all
 * interfaces) and exits 0 when it answers 200. A slim image has no curl or wget; node is there anyway.
 */
import { HEALTH_ADDRESS_ENV, healthUrl, parseHealthAddress } from './health';

export async function probe(env: NodeJS.ProcessEnv, pathname = '/healthz', timeoutMs = 4000): Promise<{ ok: boolean; message: string }> {
  const address = parseHealthAddress(env[HEALTH_ADDRESS_ENV]);
  if (!address) return { ok: false, message: `${HEALTH_ADDRESS_ENV} is not set: the worker serves no health endpoint` };
  const url = healthUrl(address, pathname);
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return { ok: res.ok, message: `${url}: ${res.status} ${(await res.text()).trim()}` };
  } catch (err) {
    return { ok: false, message: `${url}: ${(err as Error).message}` };
  }
}

if (require.main === module) {
  probe(process.env, process.argv[2]).then(
    ({ ok, message }) => {
      (ok ? console.log : console.error)(message);
      process.exit(ok ? 0 : 1);
    },
    (err: unknown) => {
      console.error((err as Error).message);
      process.exit(1);
    },
  );
}
