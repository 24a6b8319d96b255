/**
 * Payload encryption in tests: a fresh key per call, as the environment the worker, the CLI and the codec
 * server read (workers/codec.ts), and clients that do or do not hold it.
 *
 *   const codecEnv = testCodecEnv();
 *   await services.startWorker({ env: codecEnv });             // a worker process that encrypts
 *   const worker = await createTestWorker(conn, q, 'default', { payloadCodecs: [codecFromEnv(codecEnv)] });
 *   const client = codecClient(connection, namespace, codecEnv); // reads what they wrote
 *   const raw = codecClient(connection, namespace);               // sees only ciphertext
 */
import { Client, type Connection } from '@temporalio/client';
import { CODEC_KEYS_ENV, CODEC_KEY_ID_ENV, codecFromEnv, generateCodecKey } from '../../workers/codec';

/** JUDGELOOP_CODEC_KEYS / JUDGELOOP_CODEC_KEY_ID with one new random key named `keyId`. */
export function testCodecEnv(keyId = 'test-key'): { JUDGELOOP_CODEC_KEYS: string; JUDGELOOP_CODEC_KEY_ID: string } {
  return { [CODEC_KEYS_ENV]: `${keyId}:${generateCodecKey()}`, [CODEC_KEY_ID_ENV]: keyId } as {
    JUDGELOOP_CODEC_KEYS: string;
    JUDGELOOP_CODEC_KEY_ID: string;
  };
}

/** A client with the codec of `env` (none: the SDK's default converter, which cannot read encrypted payloads). */
export function codecClient(connection: Connection, namespace: string, env?: NodeJS.ProcessEnv): Client {
  return new Client({ connection, namespace, ...(env ? { dataConverter: { payloadCodecs: [codecFromEnv(env)] } } : {}) });
}
