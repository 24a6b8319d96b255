/**
 * The codec server (workers/codec-server.ts) over real HTTP on a loopback port: Temporal's remote codec
 * protocol (/encode, /decode, under a namespace prefix too), CORS for the Web UI, the bearer token, and its
 * errors; and `judgeloop codec-server` (cli/codec-server.ts) as the CLI runs it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { codecFromEnv, generateCodecKey, CODEC_KEYS_ENV, CODEC_KEY_ID_ENV } from '../../workers/codec';
import { payloadFromJson, payloadToJson, startCodecServer, type CodecServer } from '../../workers/codec-server';
import { parseCommandLine, UsageError } from '../../cli/args';
import { main } from '../../cli/judgeloop';

const ENV = { [CODEC_KEYS_ENV]: `k1:${generateCodecKey()}`, [CODEC_KEY_ID_ENV]: 'k1' };
const codec = codecFromEnv(ENV);
const UI = 'http://localhost:8233';
const TOKEN = 'test-token-0123456789';

const value = { storage: { bucket: 'my-bucket' }, uri: 's3://my-bucket/runs/r1', metric: 'exactAgreement' };
const b64 = (s: string) => Buffer.from(s).toString('base64');
const metaText = (p: { metadata?: Record<string, string> }, k: string) => Buffer.from(p.metadata?.[k] ?? '', 'base64').toString('utf8');

async function post(server: CodecServer, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Namespace': 'default', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

describe('codec server: protocol, CORS and errors (no token)', () => {
  let server: CodecServer;
  before(async () => {
    server = await startCodecServer({ codec, port: 0, corsOrigins: [UI] });
  });
  after(() => server.close());

  test('POST /encode encrypts; POST /decode (and /default/decode) gives back the payloads the worker would read', async () => {
    const clear = payloadToJson(defaultPayloadConverter.toPayload(value));
    const enc = await post(server, '/encode', { payloads: [clear] });
    assert.equal(enc.status, 200);
    assert.match(enc.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(enc.headers.get('cache-control'), 'no-store');
    const encrypted = ((await enc.json()) as { payloads: Array<{ metadata: Record<string, string>; data: string }> }).payloads;
    assert.equal(encrypted.length, 1);
    assert.equal(metaText(encrypted[0], 'encoding'), 'binary/encrypted');
    assert.equal(metaText(encrypted[0], 'encryption-key-id'), 'k1');
    assert.doesNotMatch(Buffer.from(encrypted[0].data, 'base64').toString('latin1'), /my-bucket|exactAgreement/);
    for (const path of ['/decode', '/default/decode', '/default/decode/']) {
      const dec = await post(server, path, { payloads: encrypted });
      assert.equal(dec.status, 200, path);
      const [p] = ((await dec.json()) as { payloads: unknown[] }).payloads;
      assert.deepEqual(defaultPayloadConverter.fromPayload(payloadFromJson(p, 0)), value, path);
    }
  });

  test("payloads the worker's codec encrypted decode here, and clear ones pass through untouched", async () => {
    const [fromWorker] = await codec.encode([defaultPayloadConverter.toPayload(value)]);
    const clear = payloadToJson(defaultPayloadConverter.toPayload('plain'));
    const res = await post(server, '/decode', { payloads: [payloadToJson(fromWorker), clear] });
    assert.equal(res.status, 200);
    const out = ((await res.json()) as { payloads: unknown[] }).payloads.map((p, i) => defaultPayloadConverter.fromPayload(payloadFromJson(p, i)));
    assert.deepEqual(out, [value, 'plain']);
  });

  test('CORS: the preflight and the POST carry the allowed origin; another origin gets no CORS header', async () => {
    const pre = await fetch(`${server.url}/decode`, {
      method: 'OPTIONS',
      headers: { Origin: UI, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type,x-namespace,authorization' },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), UI);
    assert.equal(pre.headers.get('access-control-allow-credentials'), 'true');
    assert.match(pre.headers.get('access-control-allow-methods') ?? '', /POST/);
    for (const h of ['Content-Type', 'X-Namespace', 'Authorization']) assert.match(pre.headers.get('access-control-allow-headers') ?? '', new RegExp(h));
    const res = await post(server, '/decode', { payloads: [] }, { Origin: UI });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), UI);
    assert.deepEqual(await res.json(), { payloads: [] });
    const other = await post(server, '/decode', { payloads: [] }, { Origin: 'http://evil.example' });
    assert.equal(other.headers.get('access-control-allow-origin'), null);
  });

  const ERRORS: Array<[string, () => Promise<Response>, number, RegExp]> = [
    ['GET /decode', () => fetch(`${server.url}/decode`), 405, /GET is not allowed/],
    ['POST /other', () => post(server, '/other', { payloads: [] }), 404, /not found/],
    ['a body that is not JSON', () => post(server, '/decode', '{"payloads": ['), 400, /not JSON/],
    ['no payloads array', () => post(server, '/decode', { items: [] }), 400, /\{"payloads": \[\.\.\.\]\}/],
    ['data that is not base64', () => post(server, '/decode', { payloads: [{ metadata: {}, data: 'not base64!' }] }), 400, /payloads\[0\]\.data is not a base64 string/],
    [
      'a payload of an unknown key id',
      () => post(server, '/decode', { payloads: [{ metadata: { encoding: b64('binary/encrypted'), 'encryption-key-id': b64('gone') }, data: b64('x'.repeat(40)) }] }),
      400,
      /key id "gone", which JUDGELOOP_CODEC_KEYS does not list/,
    ],
    [
      'an altered ciphertext',
      async () => {
        const [p] = await codec.encode([defaultPayloadConverter.toPayload(value)]);
        const data = Buffer.from(p.data!);
        data[15] ^= 0xff;
        return post(server, '/decode', { payloads: [payloadToJson({ metadata: p.metadata, data } as Payload)] });
      },
      400,
      /failed authentication/,
    ],
  ];
  for (const [name, request, status, message] of ERRORS) {
    test(`error: ${name} -> ${status}`, async () => {
      const res = await request();
      assert.equal(res.status, status);
      assert.match(((await res.json()) as { error: string }).error, message);
    });
  }
});

describe('codec server with a token', () => {
  let server: CodecServer;
  before(async () => {
    server = await startCodecServer({ codec, port: 0, token: TOKEN, corsOrigins: ['*'] });
  });
  after(() => server.close());

  test('POSTs need Authorization: Bearer <token>; the preflight does not (browsers send none)', async () => {
    const body = { payloads: [payloadToJson(defaultPayloadConverter.toPayload(1))] };
    for (const [headers, status] of [
      [{}, 401],
      [{ Authorization: 'Bearer wrong' }, 401],
      [{ Authorization: TOKEN }, 401],
      [{ Authorization: `Bearer ${TOKEN}x` }, 401],
      [{ Authorization: `Bearer ${TOKEN}` }, 200],
    ] as Array<[Record<string, string>, number]>) {
      const res = await post(server, '/encode', body, headers);
      assert.equal(res.status, status, JSON.stringify(headers));
      if (status === 401) assert.equal(res.headers.get('www-authenticate'), 'Bearer');
    }
    const pre = await fetch(`${server.url}/encode`, { method: 'OPTIONS', headers: { Origin: 'http://any.example', 'Access-Control-Request-Method': 'POST' } });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), 'http://any.example', '"*" allows any origin, echoed for credentials');
  });
});

describe('judgeloop codec-server', () => {
  test('flags: defaults, port, host, repeated origins; bad values are usage errors naming the flag', () => {
    assert.deepEqual(parseCommandLine(['codec-server'], {}), {
      command: 'codec-server',
      host: '127.0.0.1',
      port: 8888,
      corsOrigins: ['http://localhost:8233', 'http://127.0.0.1:8233'],
    });
    assert.deepEqual(parseCommandLine(['codec-server', '--port', '9999', '--host', '0.0.0.0', '--cors-origin', 'https://ui.example.com', '--cors-origin', 'http://localhost:8080'], {}), {
      command: 'codec-server',
      host: '0.0.0.0',
      port: 9999,
      corsOrigins: ['https://ui.example.com', 'http://localhost:8080'],
    });
    for (const [argv, message] of [
      [['--port', '70000'], /--port must be at most 65535/],
      [['--port', 'x'], /--port must be an integer/],
      [['--cors-origin', 'https://ui.example.com/path'], /--cors-origin "https:\/\/ui.example.com\/path" is not an origin/],
      [['--cors-origin', 'localhost:8233'], /is not an origin/],
      [['--token', 'x'], /unknown flag --token/],
    ] as Array<[string[], RegExp]>) {
      assert.throws(() => parseCommandLine(['codec-server', ...argv], {}), (e: Error) => e instanceof UsageError && message.test(e.message), argv.join(' '));
    }
  });

  test('without keys it refuses (exit 2, naming the variable); with keys it serves until aborted', async () => {
    let err = '';
    const rc = await main(['codec-server', '--port', '0'], { out: { write: () => true }, err: { write: (s: string) => (err += s) }, env: {} });
    assert.equal(rc, 2);
    assert.match(err, /set JUDGELOOP_CODEC_KEYS/);

    let out = '';
    const controller = new AbortController();
    const running = main(['codec-server', '--port', '0'], {
      out: { write: (s: string) => (out += s) },
      err: { write: () => true },
      env: { ...ENV, JUDGELOOP_CODEC_SERVER_TOKEN: TOKEN },
      signal: controller.signal,
    });
    const deadline = Date.now() + 10_000;
    while (!/codec server on (http:\S+)/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const url = /codec server on (http:\S+)/.exec(out)?.[1];
    assert.ok(url, out);
    assert.match(out, /--codec-auth "Bearer \$JUDGELOOP_CODEC_SERVER_TOKEN"/);
    assert.ok(!out.includes(TOKEN), 'the token is never printed');
    const res = await fetch(`${url}/encode`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ payloads: [payloadToJson(defaultPayloadConverter.toPayload('hi'))] }),
    });
    assert.equal(res.status, 200);
    const [p] = ((await res.json()) as { payloads: unknown[] }).payloads;
    assert.equal(defaultPayloadConverter.fromPayload((await codec.decode([payloadFromJson(p, 0)]))[0]), 'hi', "the server's /encode uses the workers' key");
    controller.abort();
    assert.equal(await running, 0);
    await assert.rejects(fetch(`${url}/encode`, { method: 'POST', body: '{}' }), 'stopped after the abort');
  });
});
