/**
 * The payload codec: every Temporal payload the worker, the CLI and the codec server send is encrypted with
 * AES-256-GCM, so the Temporal server (and anyone who reads its database or its Web UI without the key) sees
 * ciphertext instead of configs, S3 URIs and metrics.
 *
 * Keys come from the environment, never from flags (a flag would show on the process's command line):
 *
 *   JUDGELOOP_CODEC_KEYS="2025-06:<base64 of 32 bytes>,2025-01:<base64 of 32 bytes>"
 *   JUDGELOOP_CODEC_KEY_ID=2025-06          (the key that encrypts; optional when only one key is listed)
 *
 * Every listed key decrypts, and each payload names the key that encrypted it, so rotation is: add the new
 * key beside the old ones, point JUDGELOOP_CODEC_KEY_ID at it, and drop an old key only once no history that
 * is still read (open runs, retained closed ones, schedules) was written with it. Unset: payloads are sent in
 * clear as before, and an encrypted payload met without keys fails with an error saying what to set.
 *
 * An encrypted payload: metadata `encoding: binary/encrypted` and `encryption-key-id: <id>`; data
 * `IV (12 bytes) | ciphertext | GCM tag (16 bytes)` of the original payload serialized as the
 * temporal.api.common.v1.Payload protobuf (Temporal's own encryption samples use the same layout). The key
 * id is the GCM additional data, so a payload whose key id was edited fails authentication.
 */
import crypto from 'node:crypto';
import protobuf from 'protobufjs';
import type { Payload, PayloadCodec } from '@temporalio/common';

export const CODEC_KEYS_ENV = 'JUDGELOOP_CODEC_KEYS';
export const CODEC_KEY_ID_ENV = 'JUDGELOOP_CODEC_KEY_ID';
export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** A codec variable has a value that cannot be used; the message names the variable and never a key's bytes. */
export class CodecConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CodecConfigError';
  }
}

/** A payload cannot be decrypted (unknown key id, altered ciphertext, wrong key). */
export class PayloadDecryptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PayloadDecryptionError';
  }
}

export interface CodecKeys {
  /** The key id new payloads are encrypted with. */
  encryptKeyId: string;
  /** Every key that decrypts, by id (the encrypting one included). */
  keys: ReadonlyMap<string, Buffer>;
}

/**
 * The keys from the environment; null when JUDGELOOP_CODEC_KEYS is unset or empty (encryption off).
 * Throws CodecConfigError naming the variable for anything malformed.
 */
export function parseCodecKeys(env: NodeJS.ProcessEnv = process.env): CodecKeys | null {
  const raw = env[CODEC_KEYS_ENV]?.trim() ?? '';
  const chosen = env[CODEC_KEY_ID_ENV]?.trim() || undefined;
  if (raw === '') {
    // Someone who names an encrypting key meant to encrypt: running in clear instead would be a silent leak.
    if (chosen !== undefined) {
      throw new CodecConfigError(
        `${CODEC_KEY_ID_ENV} is "${chosen}" but ${CODEC_KEYS_ENV} is not set: set ${CODEC_KEYS_ENV}="${chosen}:<base64 of 32 random bytes>" (e.g. from \`openssl rand -base64 32\`), or unset ${CODEC_KEY_ID_ENV} to run without payload encryption.`,
      );
    }
    return null;
  }
  const keys = new Map<string, Buffer>();
  const entries = raw.split(',').map((s) => s.trim());
  entries.forEach((entry, i) => {
    const where = `${CODEC_KEYS_ENV} entry ${i + 1}`;
    if (entry === '') throw new CodecConfigError(`${where} is empty: ${CODEC_KEYS_ENV} is a comma-separated list of KEY_ID:BASE64_KEY.`);
    const colon = entry.indexOf(':');
    // The entry may be a bare key pasted without its id: name the position only, never echo key material.
    if (colon < 0) throw new CodecConfigError(`${where} has no "KEY_ID:" before its key: write it as KEY_ID:BASE64_KEY (e.g. 2025-06:<base64>).`);
    const id = entry.slice(0, colon).trim();
    const b64 = entry.slice(colon + 1).trim();
    if (!KEY_ID_PATTERN.test(id)) {
      throw new CodecConfigError(`${where}: the key id must be 1 to 64 letters, digits, ".", "_" or "-" (it is stored in every payload's metadata).`);
    }
    if (keys.has(id)) throw new CodecConfigError(`${CODEC_KEYS_ENV} lists key id "${id}" twice: each id names one key.`);
    const bytes = decodeBase64Strict(b64);
    if (bytes === null) throw new CodecConfigError(`${CODEC_KEYS_ENV}: the key of "${id}" is not base64 (generate one with \`openssl rand -base64 32\`).`);
    if (bytes.length !== KEY_BYTES) {
      throw new CodecConfigError(
        `${CODEC_KEYS_ENV}: the key of "${id}" is ${bytes.length} bytes; AES-256 needs exactly ${KEY_BYTES} (generate one with \`openssl rand -base64 32\`).`,
      );
    }
    keys.set(id, bytes);
  });
  let encryptKeyId = chosen;
  if (encryptKeyId === undefined) {
    if (keys.size > 1) {
      throw new CodecConfigError(
        `${CODEC_KEYS_ENV} lists ${keys.size} keys (${[...keys.keys()].join(', ')}): set ${CODEC_KEY_ID_ENV} to the one that encrypts new payloads.`,
      );
    }
    encryptKeyId = [...keys.keys()][0];
  } else if (!keys.has(encryptKeyId)) {
    throw new CodecConfigError(
      `${CODEC_KEY_ID_ENV} is "${encryptKeyId}", which ${CODEC_KEYS_ENV} does not list (it has: ${[...keys.keys()].join(', ')}): add "${encryptKeyId}:<base64 key>" to ${CODEC_KEYS_ENV} or pick a listed id.`,
    );
  }
  return { encryptKeyId, keys };
}

/** Base64 (standard or URL-safe, padding optional) or null; Buffer.from alone silently skips bad characters. */
function decodeBase64Strict(s: string): Buffer | null {
  if (s === '' || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(s)) return null;
  const normalized = s.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  if (normalized.length % 4 === 1) return null;
  return Buffer.from(normalized, 'base64');
}

/** A fresh random key in the form JUDGELOOP_CODEC_KEYS takes (for docs and tests). */
export function generateCodecKey(): string {
  return crypto.randomBytes(KEY_BYTES).toString('base64');
}

// temporal.api.common.v1.Payload, field for field: the plaintext is what Temporal itself would put on the wire.
const PayloadProto = new protobuf.Type('Payload')
  .add(new protobuf.MapField('metadata', 1, 'string', 'bytes'))
  .add(new protobuf.Field('data', 2, 'bytes'));
new protobuf.Root().define('temporal.api.common.v1').add(PayloadProto);

function serializePayload(p: Payload): Uint8Array {
  return PayloadProto.encode(PayloadProto.fromObject({ metadata: p.metadata ?? {}, data: p.data ?? new Uint8Array() })).finish();
}

function deserializePayload(bytes: Uint8Array): Payload {
  // protobufjs decodes bytes fields to Buffers (Uint8Arrays) and maps to plain objects.
  const decoded = PayloadProto.toObject(PayloadProto.decode(bytes)) as { metadata?: Record<string, Uint8Array>; data?: Uint8Array };
  return { metadata: decoded.metadata ?? {}, data: decoded.data ?? new Uint8Array() };
}

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | null | undefined) => (b ? Buffer.from(b).toString('utf8') : undefined);

/**
 * AES-256-GCM over whole payloads. With keys null it encrypts nothing and passes clear payloads through, but
 * still refuses an encrypted payload with a message that says which variable to set (rather than the
 * converter's "Unknown encoding: binary/encrypted").
 */
export class AesGcmPayloadCodec implements PayloadCodec {
  constructor(readonly keys: CodecKeys | null) {}

  get enabled(): boolean {
    return this.keys !== null;
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const keys = this.keys;
    if (!keys) return payloads;
    const keyId = keys.encryptKeyId;
    const key = keys.keys.get(keyId)!;
    return payloads.map((p) => {
      const iv = crypto.randomBytes(IV_BYTES);
      const cipher = crypto.createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(utf8(keyId));
      const body = Buffer.concat([cipher.update(serializePayload(p)), cipher.final()]);
      return {
        metadata: { encoding: utf8(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: utf8(keyId) },
        data: Buffer.concat([iv, body, cipher.getAuthTag()]),
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => this.decodeOne(p));
  }

  private decodeOne(p: Payload): Payload {
    // Clear payloads pass: histories written before encryption was turned on stay readable.
    if (text(p.metadata?.encoding) !== ENCRYPTED_ENCODING) return p;
    const keyId = text(p.metadata?.[KEY_ID_METADATA]);
    if (keyId === undefined || keyId === '') {
      throw new PayloadDecryptionError(`an encrypted payload has no ${KEY_ID_METADATA} in its metadata: it was not written by Judgeloop's codec.`);
    }
    if (!this.keys) {
      throw new PayloadDecryptionError(
        `a payload is encrypted with key id "${keyId}" but ${CODEC_KEYS_ENV} is not set: set ${CODEC_KEYS_ENV}="${keyId}:<its base64 key>" to read it.`,
      );
    }
    const key = this.keys.keys.get(keyId);
    if (!key) {
      throw new PayloadDecryptionError(
        `a payload is encrypted with key id "${keyId}", which ${CODEC_KEYS_ENV} does not list (it has: ${[...this.keys.keys.keys()].join(', ')}): add "${keyId}:<its base64 key>" to ${CODEC_KEYS_ENV} (keep retired keys listed while histories written with them are read).`,
      );
    }
    const data = Buffer.from(p.data ?? new Uint8Array());
    if (data.length < IV_BYTES + TAG_BYTES) {
      throw new PayloadDecryptionError(`a payload encrypted with key id "${keyId}" is ${data.length} bytes, too short to be one: it was truncated or altered.`);
    }
    try {
      const decipher = crypto.createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
      decipher.setAAD(utf8(keyId));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      const plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      return deserializePayload(plain);
    } catch {
      throw new PayloadDecryptionError(
        `a payload encrypted with key id "${keyId}" failed authentication: its ciphertext or metadata was altered, or the key listed as "${keyId}" in ${CODEC_KEYS_ENV} is not the one it was encrypted with.`,
      );
    }
  }
}

/** The codec for this environment (see the top of the file); throws CodecConfigError on bad values. */
export function codecFromEnv(env: NodeJS.ProcessEnv = process.env): AesGcmPayloadCodec {
  return new AesGcmPayloadCodec(parseCodecKeys(env));
}

/** For `dataConverter: { payloadCodecs }` of workers, clients and the replayer. */
export function payloadCodecsFromEnv(env: NodeJS.ProcessEnv = process.env): PayloadCodec[] {
  return [codecFromEnv(env)];
}
