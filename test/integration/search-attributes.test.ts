/**
 * The worker's start-up check of Judgeloop's search attributes (workers/search-attribute-check.ts) against a
 * real Temporal dev server: the test services' namespace has them (the stack registers them), a fresh one has
 * none, and one with an attribute of another type is named with it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { NativeConnection } from '@temporalio/worker';
import { startTestServices, type TestServices } from '../support/services';
import { ensureNamespace } from '../../stack/temporal';
import { searchAttributeWarning } from '../../workers/search-attribute-check';

let services: TestServices;
let connection: NativeConnection;

/**
 * A namespace just registered: the frontend's operator service knows it only once its namespace cache has
 * refreshed (seconds after DescribeNamespace answers), so the first calls may say "not found".
 */
async function freshNamespace(name: string): Promise<void> {
  await ensureNamespace(services.temporalAddress, name);
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await connection.operatorService.listSearchAttributes({ namespace: name });
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

before(async () => {
  services = await startTestServices();
  connection = await NativeConnection.connect({ address: services.temporalAddress });
});

after(async () => {
  await connection?.close();
  await services?.stop();
});

test('the stack\'s namespace has them all: no warning', async () => {
  assert.equal(await searchAttributeWarning(connection, services.namespace), null);
});

test('a namespace without them: one warning naming all four, with the commands that register them', async () => {
  await freshNamespace('bare');
  const warning = await searchAttributeWarning(connection, 'bare');
  assert.ok(warning);
  assert.match(warning, /^namespace bare lacks Judgeloop's search attributes/);
  assert.match(warning, /missing: JudgeloopRunName \(Keyword\), JudgeloopJudgeName \(Keyword\), JudgeloopIteration \(Int\), JudgeloopStatus \(Keyword\)/);
  assert.match(warning, /temporal operator search-attribute create --namespace bare --name JudgeloopIteration --type Int/);
  assert.match(warning, /tcld namespace search-attributes add --namespace bare/);
});

test('an attribute registered with another type is named with the type it has', async () => {
  await freshNamespace('mistyped');
  // IndexedValueType 2 = Keyword, where Judgeloop wants an Int.
  await connection.operatorService.addSearchAttributes({ namespace: 'mistyped', searchAttributes: { JudgeloopIteration: 2 } });
  const warning = await searchAttributeWarning(connection, 'mistyped');
  assert.ok(warning);
  assert.match(warning, /JudgeloopIteration is registered as 2, not Int/);
  assert.doesNotMatch(warning, /missing: [^\n]*JudgeloopIteration/);
});

test('a server that will not list them gets a short warning, not a failure', async () => {
  const warning = await searchAttributeWarning(connection, 'no-such-namespace');
  assert.match(warning ?? '', /could not list the search attributes of namespace no-such-namespace \(.+\); runs work without them/);
});
