/**
 * The payload codec (workers/codec.ts): AES-256-GCM round trips, key ids and rotation, rejection of altered
 * payloads, and the environment's validation (every error names the variable and never prints key bytes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import {
  AesGcmPayloadCodec,
  CODEC_KEYS_ENV,
  CODEC_KEY_ID_ENV,
  CodecConfigError,
  ENCRYPTED_ENCODING,
  KEY_ID_METADATA,
  PayloadDecryptionError,
  codecFromEnv,
  generateCodecKey,
  parseCodecKeys,
} from '../../workers/codec';

const KEY_A = generateCodecKey();
const KEY_B = generateCodecKey();
const text = (b: Uint8Array | null | undefined) => Buffer.from(b ?? new Uint8Array()).toString('utf8');

function codec(keys: string, keyId?: string): AesGcmPayloadCodec {
  return codecFromEnv({ [CODEC_KEYS_ENV]: keys, ...(keyId !== undefined ? { [CODEC_KEY_ID_ENV]: keyId } : {}) });
}

/** What the SDK's converter makes of a run config, a URI string, binary data and an empty value. */
const SAMPLES: Array<[string, Payload]> = [
  ['a config object', defaultPayloadConverter.toPayload({ storage: { bucket: 'secret-bucket', prefix: 'runs' }, metric: 'exactAgreement' })],
  ['a URI string', defaultPayloadConverter.toPayload('s3://secret-bucket/runs/r1/iter-0/eval/metrics.json')],
  ['binary data', defaultPayloadConverter.toPayload(new Uint8Array([0, 1, 2, 255, 254]))],
  ['undefined (binary/null, no data)', defaultPayloadConverter.toPayload(undefined)],
  ['a 1 MB string', defaultPayloadConverter.toPayload('x'.repeat(1 << 20))],
  ['extra metadata', { metadata: { encoding: Buffer.from('json/plain'), 'x-custom': Buffer.from('kept') }, data: Buffer.from('{"a":1}') }],
];

for (const [name, payload] of SAMPLES) {
  test(`round trip: ${name}`, async () => {
    const c = codec(`a:${KEY_A}`);
    const [encrypted] = await c.encode([payload]);
    assert.equal(text(encrypted.metadata?.encoding), ENCRYPTED_ENCODING);
    assert.equal(text(encrypted.metadata?.[KEY_ID_METADATA]), 'a');
    assert.deepEqual(Object.keys(encrypted.metadata ?? {}).sort(), ['encoding', KEY_ID_METADATA].sort(), 'the original metadata is inside the ciphertext');
    const [decrypted] = await c.decode([encrypted]);
    assert.deepEqual(Object.keys(decrypted.metadata ?? {}).sort(), Object.keys(payload.metadata ?? {}).sort());
    for (const [k, v] of Object.entries(payload.metadata ?? {})) assert.equal(text(decrypted.metadata?.[k]), text(v), `metadata ${k}`);
    assert.ok(Buffer.from(decrypted.data ?? []).equals(Buffer.from(payload.data ?? [])), 'data');
    assert.deepEqual(defaultPayloadConverter.fromPayload(decrypted), defaultPayloadConverter.fromPayload(payload), 'the converter reads the same value');
  });
}

test('ciphertext hides the plaintext, and the same value encrypts differently each time (random IV)', async () => {
  const c = codec(`a:${KEY_A}`);
  const p = defaultPayloadConverter.toPayload({ bucket: 'secret-bucket', uri: 's3://secret-bucket/x' });
  const [e1, e2] = await c.encode([p, p]);
  for (const e of [e1, e2]) {
    const raw = Buffer.from(e.data!).toString('latin1');
    assert.doesNotMatch(raw, /secret-bucket|s3:\/\/|json\/plain/);
  }
  assert.notDeepEqual(Buffer.from(e1.data!), Buffer.from(e2.data!));
  assert.deepEqual(defaultPayloadConverter.fromPayload((await c.decode([e2]))[0]), { bucket: 'secret-bucket', uri: 's3://secret-bucket/x' });
});

test('clear payloads pass decode unchanged (histories from before encryption); with no keys, encode is a no-op', async () => {
  const clear = defaultPayloadConverter.toPayload({ a: 1 });
  assert.equal((await codec(`a:${KEY_A}`).decode([clear]))[0], clear);
  const off = codecFromEnv({});
  assert.equal(off.enabled, false);
  assert.equal((await off.encode([clear]))[0], clear);
  assert.equal((await off.decode([clear]))[0], clear);
});

test('decrypting needs the key id the payload names: errors name the id and the variable to set', async () => {
  const [encrypted] = await codec(`old:${KEY_A}`).encode([defaultPayloadConverter.toPayload('hello')]);
  await assert.rejects(codec(`new:${KEY_B}`).decode([encrypted]), (err: Error) => {
    assert.ok(err instanceof PayloadDecryptionError);
    assert.match(err.message, /key id "old"/);
    assert.match(err.message, new RegExp(`${CODEC_KEYS_ENV} does not list \\(it has: new\\)`));
    assert.match(err.message, /add "old:<its base64 key>"/);
    return true;
  });
  // No keys at all: the converter's "Unknown encoding" would not say what to do.
  await assert.rejects(codecFromEnv({}).decode([encrypted]), (err: Error) => {
    assert.ok(err instanceof PayloadDecryptionError);
    assert.match(err.message, new RegExp(`key id "old" but ${CODEC_KEYS_ENV} is not set`));
    return true;
  });
  // The id is right but the bytes behind it are another key.
  await assert.rejects(codec(`old:${KEY_B}`).decode([encrypted]), /key id "old" failed authentication/);
});

test('rotation: after the encrypting key changes, old payloads still decrypt and new ones use the new id', async () => {
  const before = codec(`2025-01:${KEY_A}`);
  const [old] = await before.encode([defaultPayloadConverter.toPayload({ run: 'r1' })]);
  const after = codec(`2025-01:${KEY_A},2025-06:${KEY_B}`, '2025-06');
  const [fresh] = await after.encode([defaultPayloadConverter.toPayload({ run: 'r2' })]);
  assert.equal(text(fresh.metadata?.[KEY_ID_METADATA]), '2025-06');
  assert.deepEqual((await after.decode([old, fresh])).map((p) => defaultPayloadConverter.fromPayload(p)), [{ run: 'r1' }, { run: 'r2' }]);
  // A process that still has only the old key cannot read the new payloads, and says which key it lacks.
  await assert.rejects(before.decode([fresh]), /key id "2025-06"/);
  // Once the old key is dropped, its payloads are unreadable: why retired keys stay listed while read.
  await assert.rejects(codec(`2025-06:${KEY_B}`).decode([old]), /key id "2025-01"/);
});

test('altered payloads are rejected: ciphertext, IV, tag, truncation, a swapped key id, missing key id', async () => {
  const c = codec(`a:${KEY_A},b:${KEY_A}`, 'a'); // b holds the same bytes: only the additional data tells them apart
  const [good] = await c.encode([defaultPayloadConverter.toPayload({ metric: 'pearson', value: 0.5 })]);
  const data = Buffer.from(good.data!);
  const flip = (i: number) => {
    const d = Buffer.from(data);
    d[i] ^= 0x01;
    return { metadata: good.metadata, data: d };
  };
  const cases: Array<[string, Payload, RegExp]> = [
    ['a ciphertext byte', flip(20), /key id "a" failed authentication/],
    ['an IV byte', flip(0), /failed authentication/],
    ['a tag byte', flip(data.length - 1), /failed authentication/],
    ['truncated to 10 bytes', { metadata: good.metadata, data: data.subarray(0, 10) }, /too short/],
    ['truncated by one byte', { metadata: good.metadata, data: data.subarray(0, data.length - 1) }, /failed authentication/],
    ['key id changed to another id with the same key', { metadata: { ...good.metadata, [KEY_ID_METADATA]: Buffer.from('b') }, data }, /key id "b" failed authentication/],
    ['key id removed', { metadata: { encoding: Buffer.from(ENCRYPTED_ENCODING) }, data }, /no encryption-key-id/],
  ];
  for (const [name, payload, message] of cases) {
    await assert.rejects(c.decode([payload]), (err: Error) => {
      assert.ok(err instanceof PayloadDecryptionError, `${name}: ${err}`);
      assert.match(err.message, message, name);
      return true;
    });
  }
  assert.deepEqual(defaultPayloadConverter.fromPayload((await c.decode([good]))[0]), { metric: 'pearson', value: 0.5 }, 'the untouched payload still decrypts');
});

test('environment: unset is off; one key needs no id; URL-safe base64 and spaces are accepted', () => {
  assert.equal(parseCodecKeys({}), null);
  assert.equal(parseCodecKeys({ [CODEC_KEYS_ENV]: '  ' }), null);
  const one = parseCodecKeys({ [CODEC_KEYS_ENV]: `solo:${KEY_A}` })!;
  assert.equal(one.encryptKeyId, 'solo');
  assert.ok(one.keys.get('solo')!.equals(Buffer.from(KEY_A, 'base64')));
  const urlSafe = Buffer.from(KEY_B, 'base64').toString('base64url');
  const two = parseCodecKeys({ [CODEC_KEYS_ENV]: ` a:${KEY_A} , b:${urlSafe} `, [CODEC_KEY_ID_ENV]: ' b ' })!;
  assert.equal(two.encryptKeyId, 'b');
  assert.ok(two.keys.get('b')!.equals(Buffer.from(KEY_B, 'base64')));
});

const SHORT = crypto.randomBytes(16).toString('base64');
const BAD_ENV: Array<[string, NodeJS.ProcessEnv, RegExp]> = [
  ['a key id without keys', { [CODEC_KEY_ID_ENV]: 'a' }, new RegExp(`${CODEC_KEY_ID_ENV} is "a" but ${CODEC_KEYS_ENV} is not set`)],
  ['a bare key without its id', { [CODEC_KEYS_ENV]: KEY_A }, new RegExp(`${CODEC_KEYS_ENV} entry 1 has no "KEY_ID:"`)],
  ['an empty entry', { [CODEC_KEYS_ENV]: `a:${KEY_A},` }, new RegExp(`${CODEC_KEYS_ENV} entry 2 is empty`)],
  ['a key id with a space', { [CODEC_KEYS_ENV]: `my key:${KEY_A}` }, new RegExp(`${CODEC_KEYS_ENV} entry 1: the key id must be`)],
  ['a key id twice', { [CODEC_KEYS_ENV]: `a:${KEY_A},a:${KEY_B}`, [CODEC_KEY_ID_ENV]: 'a' }, new RegExp(`${CODEC_KEYS_ENV} lists key id "a" twice`)],
  ['a key that is not base64', { [CODEC_KEYS_ENV]: 'a:not*base64!' }, new RegExp(`${CODEC_KEYS_ENV}: the key of "a" is not base64`)],
  ['a 16-byte key', { [CODEC_KEYS_ENV]: `a:${SHORT}` }, new RegExp(`${CODEC_KEYS_ENV}: the key of "a" is 16 bytes; AES-256 needs exactly 32`)],
  ['two keys and no encrypting id', { [CODEC_KEYS_ENV]: `a:${KEY_A},b:${KEY_B}` }, new RegExp(`lists 2 keys \\(a, b\\): set ${CODEC_KEY_ID_ENV}`)],
  ['an encrypting id that is not listed', { [CODEC_KEYS_ENV]: `a:${KEY_A}`, [CODEC_KEY_ID_ENV]: 'c' }, new RegExp(`${CODEC_KEY_ID_ENV} is "c", which ${CODEC_KEYS_ENV} does not list`)],
];

for (const [name, env, message] of BAD_ENV) {
  test(`environment error: ${name}`, () => {
    assert.throws(
      () => parseCodecKeys(env),
      (err: Error) => {
        assert.ok(err instanceof CodecConfigError, String(err));
        assert.match(err.message, message);
        // The message is printed by the worker and the CLI: it must never carry key material.
        for (const secret of [KEY_A, KEY_B, SHORT]) assert.ok(!err.message.includes(secret), `${name}: the message shows a key`);
        return true;
      },
    );
  });
}
