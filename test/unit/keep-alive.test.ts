import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Context as ActivityContext } from '@temporalio/activity';
import { keepAliveInterceptor } from '../../workers/keep-alive';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function fakeContext(info: { heartbeatTimeoutMs?: number; isLocal: boolean }) {
  const sent: unknown[] = [];
  const ctx = { info, heartbeat: (details?: unknown) => void sent.push(details) };
  return { ctx: ctx as unknown as ActivityContext, sent, original: ctx.heartbeat };
}

test('keep-alive: a silent activity is heartbeaten with its last details; nothing after it ends; the context is restored', async () => {
  const { ctx, sent, original } = fakeContext({ heartbeatTimeoutMs: 300, isLocal: false });
  const execute = keepAliveInterceptor(ctx).inbound!.execute!;
  const result = await execute({ args: [], headers: {} }, async () => {
    ctx.heartbeat({ rows: 7 });
    await sleep(1000); // one long call: silent for ten times the repeat interval (100 ms)
    return 'done';
  });
  assert.equal(result, 'done');
  assert.deepEqual(sent[0], { rows: 7 }, 'the activity\'s own heartbeat goes through');
  const repeats = sent.slice(1);
  assert.ok(repeats.length >= 3, `repeated while silent (${repeats.length} times)`);
  assert.ok(repeats.every((d) => JSON.stringify(d) === JSON.stringify({ rows: 7 })), 'with the last details, never empty ones');
  const after = sent.length;
  await sleep(350);
  assert.equal(sent.length, after, 'no heartbeat once the activity has returned');
  assert.equal((ctx as unknown as { heartbeat: unknown }).heartbeat, original);
});

test('keep-alive: nothing added for local activities or activities without a heartbeat timeout', async () => {
  for (const info of [{ heartbeatTimeoutMs: 300, isLocal: true }, { heartbeatTimeoutMs: undefined, isLocal: false }]) {
    const { ctx, sent } = fakeContext(info);
    await keepAliveInterceptor(ctx).inbound!.execute!({ args: [], headers: {} }, async () => sleep(400));
    assert.deepEqual(sent, [], JSON.stringify(info));
  }
});

test('keep-alive: an activity that fails still stops the beat', async () => {
  const { ctx, sent } = fakeContext({ heartbeatTimeoutMs: 300, isLocal: false });
  await assert.rejects(
    keepAliveInterceptor(ctx).inbound!.execute!({ args: [], headers: {} }, async () => {
      await sleep(250);
      throw new Error('step failed');
    }),
    /step failed/,
  );
  const after = sent.length;
  await sleep(350);
  assert.equal(sent.length, after);
});
