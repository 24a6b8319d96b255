/**
 * `judgeloop codec-server`: runs workers/codec-server.ts with the keys of this environment until Ctrl-C (or
 * the command's abort signal, in tests), and prints how to point the Temporal CLI and Web UI at it.
 */
import { EXIT_OK, EXIT_USAGE, type CodecServerCommand } from './args';
import { CliError } from './connection';
import { println, type OutStream } from './follow';
import { CODEC_KEYS_ENV, CodecConfigError, codecFromEnv } from '../workers/codec';
import { startCodecServer, type CodecServer } from '../workers/codec-server';

export const CODEC_SERVER_TOKEN_ENV = 'JUDGELOOP_CODEC_SERVER_TOKEN';

function isLoopbackHost(host: string): boolean {
  return host === '127.0.0.1' || host === 'localhost' || host === '::1' || host === '[::1]';
}

export async function cmdCodecServer(
  cmd: CodecServerCommand,
  io: { out: OutStream; err: OutStream; signal?: AbortSignal; env?: NodeJS.ProcessEnv },
): Promise<number> {
  const env = io.env ?? process.env;
  let codec;
  try {
    codec = codecFromEnv(env);
  } catch (e) {
    if (!(e instanceof CodecConfigError)) throw e;
    println(io.err, e.message);
    return EXIT_USAGE;
  }
  if (!codec.keys) {
    println(io.err, `the codec server needs the keys the workers use: set ${CODEC_KEYS_ENV} (and JUDGELOOP_CODEC_KEY_ID) as for the worker (docs/security.md).`);
    return EXIT_USAGE;
  }
  const token = env[CODEC_SERVER_TOKEN_ENV]?.trim() || undefined;
  if (!token && !isLoopbackHost(cmd.host)) {
    println(io.err, `warning: --host ${cmd.host} without ${CODEC_SERVER_TOKEN_ENV}: anyone who reaches this port can decrypt the run's payloads.`);
  }
  let server: CodecServer;
  try {
    server = await startCodecServer({
      codec,
      host: cmd.host,
      port: cmd.port,
      corsOrigins: cmd.corsOrigins,
      ...(token ? { token } : {}),
      log: (line) => println(io.err, line),
    });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new CliError(`port ${cmd.port} on ${cmd.host} is in use: pass another --port.`);
    if (code === 'EADDRNOTAVAIL') throw new CliError(`cannot bind ${cmd.host}: not an address of this machine (--host).`);
    throw e;
  }
  const keys = codec.keys;
  println(io.out, `codec server on ${server.url} (POST /encode, /decode)`);
  println(io.out, `  keys:   ${[...keys.keys.keys()].join(', ')}; /encode uses ${keys.encryptKeyId}`);
  println(io.out, `  auth:   ${token ? `Authorization: Bearer <${CODEC_SERVER_TOKEN_ENV}>` : 'none (bound to ' + cmd.host + ')'}`);
  println(io.out, `  CORS:   ${cmd.corsOrigins.join(', ')}`);
  println(io.out, `  CLI:    temporal workflow show --workflow-id RUN_ID --codec-endpoint ${server.url}${token ? ` --codec-auth "Bearer $${CODEC_SERVER_TOKEN_ENV}"` : ''}`);
  println(io.out, `  Web UI: Settings (the codec server's endpoint) -> ${server.url}`);
  println(io.out, 'Ctrl-C stops it.');
  await new Promise<void>((resolve) => {
    if (io.signal?.aborted) return resolve();
    io.signal?.addEventListener('abort', () => resolve(), { once: true });
  });
  await server.close();
  println(io.err, 'codec server stopped');
  return EXIT_OK;
}
