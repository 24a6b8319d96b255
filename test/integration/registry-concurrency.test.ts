/**
 * The judge registry under concurrent promotions, against the real local S3 server (versitygw, whose
 * PutObject honours If-Match and If-None-Match): the registry activities (activities/steps/registry.ts) called at
 * once from many "runs", as their workflows would call them.
 *
 * - Many runs that compared against the same champion promote at once: exactly one replaces it, every
 *   decision is in the history, and the others say whose promotion they lost to.
 * - Many runs each promote until their judge is the champion, each time training on (naming as parent) the
 *   champion it read: the final champion's lineage holds every run's promotion. A lost update (a write that
 *   replaced a champion its writer never read) would drop a judge from the chain.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig, type RunConfig } from '../../core/config/config';
import { lineage } from '../../core/promotion/registry';
import { createRegistryActivities, readRegistry, type ProposedEntry } from '../../activities/steps/registry';
import { ObjectStore, createS3Client } from '../../activities/storage/object-store';
import { startTestServices, type TestServices } from '../support/services';

let services: TestServices;
let store: ObjectStore;

before(async () => {
  services = await startTestServices({ temporal: false });
  const s3 = services.s3;
  store = new ObjectStore(createS3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true }, s3));
});
after(async () => {
  store?.client.destroy();
  await services?.stop();
});

function configFor(judgeName: string): RunConfig {
  const r = validateConfig({
    name: 'registry-concurrency',
    judge: { name: judgeName, seedModel: '.judgeloop/models/tiny-judge' },
    data: { train: { uri: 'datasets/synthetic/train.jsonl' }, evalSuites: [{ name: 'syn', kind: 'pointwise', uri: 'datasets/synthetic/heldout.jsonl' }] },
    storage: { bucket: services.s3.bucket, endpoint: services.s3.endpoint },
  });
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.problems));
  return r.config;
}

function activities() {
  return createRegistryActivities({ projectRoot: '.', storeFor: () => store, runnerFor: () => assert.fail('no jobs'), codeVersion: 'test' });
}

function proposal(judgeName: string, runId: string, iteration: number, modelUri: string, parent: string | null, seed: string): ProposedEntry {
  return {
    judgeName,
    modelUri,
    runId,
    iteration,
    parentModelUri: parent,
    seedModelUri: seed,
    data: { trainUri: 'datasets/synthetic/train.jsonl', configHash: 'h' },
    metrics: {},
    decision: { promoted: true, reasons: ['gate passed'], decidedBy: 'gate' },
  };
}

test('16 runs promote against the same champion at once: one replaces it, all 16 decisions are recorded', { timeout: 120_000 }, async () => {
  const judge = `same-champion-${Date.now().toString(36)}`;
  const config = configFor(judge);
  const seed = `s3://${services.s3.bucket}/seed/${judge}`;
  const acts = activities();
  // The seed as champion first, so every run below compares against an existing champion (If-Match path).
  const first = await acts.recordDecision({ config, entry: proposal(judge, 'r0', 0, seed, null, seed), expectedChampionModelUri: null });
  assert.equal(first.championReplaced, true);

  const N = 16;
  const results = await Promise.all(
    Array.from({ length: N }, (_, i) =>
      acts.recordDecision({ config, entry: proposal(judge, `run-${i}`, 1, `s3://${services.s3.bucket}/models/run-${i}`, seed, seed), expectedChampionModelUri: seed }),
    ),
  );
  const winners = results.map((r, i) => ({ r, i })).filter(({ r }) => r.championReplaced);
  assert.equal(winners.length, 1, `exactly one promotion replaces the champion: ${JSON.stringify(results.map((r) => r.championReplaced))}`);
  const winnerModel = `s3://${services.s3.bucket}/models/run-${winners[0].i}`;

  const reg = await readRegistry(store, config.storage, judge);
  assert.equal(reg.champion?.modelUri, winnerModel);
  assert.equal(reg.history.length, N + 1, 'the seed and every run\'s decision');
  for (let i = 0; i < N; i++) {
    const e = reg.history.find((h) => h.runId === `run-${i}`);
    assert.ok(e, `run-${i}'s decision`);
    assert.equal(e.championReplaced, i === winners[0].i);
    if (i !== winners[0].i) assert.match(e.note ?? '', new RegExp(`the registry's champion is ${winnerModel.replace(/[/.]/g, '\\$&')} \\(run run-${winners[0].i}, iteration 1\\)`));
  }
});

test('8 runs each promote until their judge is champion, reading the champion before each try: the lineage holds all 8', { timeout: 180_000 }, async () => {
  const judge = `chain-${Date.now().toString(36)}`;
  const config = configFor(judge);
  const seed = `s3://${services.s3.bucket}/seed/${judge}`;
  const acts = activities();
  await acts.recordDecision({ config, entry: proposal(judge, 'r0', 0, seed, null, seed), expectedChampionModelUri: null });

  const N = 8;
  let tries = 0;
  const runOne = async (i: number): Promise<number> => {
    for (let iteration = 1; iteration <= 50; iteration++) {
      tries++;
      // What a run does per iteration: read the champion, train from it, promote against it.
      const champion = await acts.readChampion({ config });
      assert.ok(champion);
      const model = `s3://${services.s3.bucket}/models/run-${i}-iter-${iteration}`;
      const out = await acts.recordDecision({ config, entry: proposal(judge, `run-${i}`, iteration, model, champion.modelUri, seed), expectedChampionModelUri: champion.modelUri });
      if (out.championReplaced) return iteration;
    }
    throw new Error(`run-${i} never became champion in 50 tries`);
  };
  const iterations = await Promise.all(Array.from({ length: N }, (_, i) => runOne(i)));
  assert.ok(tries > N, `the runs contended (${tries} tries for ${N} promotions)`);

  const reg = await readRegistry(store, config.storage, judge);
  assert.ok(reg.champion);
  const { chain, root, complete } = lineage(reg.champion, reg.history);
  assert.equal(complete, true);
  assert.equal(root, seed);
  const promoted = chain.filter((e) => e.modelUri !== seed).map((e) => e.modelUri).sort();
  const expected = iterations.map((it, i) => `s3://${services.s3.bucket}/models/run-${i}-iter-${it}`).sort();
  assert.deepEqual(promoted, expected, 'every successful promotion is in the champion\'s lineage: none was overwritten');
  // Each promotion names the champion it replaced: the chain is a line, no two promotions share a parent.
  const replacedEntries = reg.history.filter((e) => e.championReplaced && e.modelUri !== seed);
  assert.equal(replacedEntries.length, N);
  assert.equal(new Set(replacedEntries.map((e) => e.parentModelUri)).size, N);
  assert.equal(reg.history.length, tries + 1, 'every try is recorded');
});
