/** The promotion gate (core/promotion/gate.ts) and the sign-off checks (core/promotion/approval.ts): table-driven. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decidePromotion, suiteParseRate, type GateRules } from '../../core/promotion/gate';
import { approvalProblem, approvalReason, timeoutReason } from '../../core/promotion/approval';
import type { PairwiseMetrics, PointwiseMetrics, SuiteMetrics } from '../../core/run/run-types';

function pw(over: Partial<PointwiseMetrics> = {}): PointwiseMetrics {
  return { kind: 'pointwise', n: 100, parsed: 100, parseRate: 1, exactAgreement: 0.5, mae: 0.8, pearson: 0.4, spearman: 0.4, kendall: 0.3, ...over };
}

function pa(over: Partial<PairwiseMetrics> = {}): PairwiseMetrics {
  return { kind: 'pairwise', n: 24, accuracy: 0.5, ties: 0, unparseable: 0, ...over };
}

const RULES: GateRules = {
  enabled: true,
  maxDrop: 0.02,
  metrics: { pointwise: 'pearson', pairwise: 'accuracy' },
  parseRateFloor: 0.9,
};

interface Case {
  name: string;
  champion: Record<string, SuiteMetrics>;
  challenger: Record<string, SuiteMetrics>;
  rules?: Partial<GateRules>;
  promote: boolean;
  /** Each pattern must match some reason. */
  reasons: RegExp[];
}

const CASES: Case[] = [
  {
    name: 'an improvement on every suite is promoted',
    champion: { a: pw({ pearson: 0.41 }), b: pa({ accuracy: 0.5 }) },
    challenger: { a: pw({ pearson: 0.6 }), b: pa({ accuracy: 0.55 }) },
    promote: true,
    reasons: [/^a pearson 0\.410 → 0\.600 \(\+0\.190, tolerance 0\.020\): ok$/, /^b accuracy 0\.500 → 0\.550 \(\+0\.050, tolerance 0\.020\): ok$/, /^a parse rate 100\.0% \(floor 90\.0%\): ok$/],
  },
  {
    name: 'a drop beyond the tolerance on one suite rejects, with the numbers',
    champion: { 'vicuna-24': pw({ pearson: 0.41 }) },
    challenger: { 'vicuna-24': pw({ pearson: 0.38 }) },
    promote: false,
    reasons: [/^vicuna-24 pearson 0\.410 → 0\.380 \(−0\.030, tolerance 0\.020\): dropped$/],
  },
  {
    name: 'a drop of exactly the tolerance passes',
    champion: { a: pw({ pearson: 0.5 }) },
    challenger: { a: pw({ pearson: 0.48 }) },
    promote: true,
    reasons: [/0\.500 → 0\.480 \(−0\.020, tolerance 0\.020\): ok/],
  },
  {
    name: 'MAE is lower-is-better: a rise is a drop',
    champion: { a: pw({ mae: 0.5 }) },
    challenger: { a: pw({ mae: 0.6 }) },
    rules: { metrics: { pointwise: 'mae', pairwise: 'accuracy' } },
    promote: false,
    reasons: [/^a mae 0\.500 → 0\.600 \(\+0\.100, tolerance 0\.020, lower is better\): dropped$/],
  },
  {
    name: 'MAE is lower-is-better: a fall passes',
    champion: { a: pw({ mae: 0.9 }) },
    challenger: { a: pw({ mae: 0.4 }) },
    rules: { metrics: { pointwise: 'mae', pairwise: 'accuracy' } },
    promote: true,
    reasons: [/mae 0\.900 → 0\.400 \(−0\.500, .*lower is better\): ok/],
  },
  {
    name: "a null champion metric (a seed with constant scores) cannot be dropped from",
    champion: { a: pw({ pearson: null }) },
    challenger: { a: pw({ pearson: 0.2 }) },
    promote: true,
    reasons: [/^a pearson undefined → 0\.200: the champion has no value to drop from: ok$/],
  },
  {
    name: 'a null challenger metric fails: nothing shows it did not drop',
    champion: { a: pw({ pearson: 0.3 }) },
    challenger: { a: pw({ pearson: null }) },
    promote: false,
    reasons: [/^a pearson 0\.300 → undefined .*cannot show it did not drop: failed$/],
  },
  {
    name: 'null for both is not compared',
    champion: { a: pw({ pearson: null }) },
    challenger: { a: pw({ pearson: null }) },
    promote: true,
    reasons: [/undefined for both judges .*not compared: ok/],
  },
  {
    name: "a suite missing from the challenger's evaluation fails",
    champion: { a: pw(), gone: pw() },
    challenger: { a: pw() },
    promote: false,
    reasons: [/^gone pearson: missing from the challenger's evaluation: failed$/, /^gone parse rate: missing/],
  },
  {
    name: 'a suite new in the challenger has no baseline and passes',
    champion: { a: pw() },
    challenger: { a: pw(), fresh: pw() },
    promote: true,
    reasons: [/^fresh pearson: new suite/],
  },
  {
    name: 'the parse-rate floor rejects a challenger that parses too little',
    champion: { a: pw() },
    challenger: { a: pw({ parseRate: 0.85 }) },
    promote: false,
    reasons: [/^a parse rate 85\.0% \(floor 90\.0%\): below the floor$/],
  },
  {
    name: 'pairwise parse rate is 1 - unparseable/n',
    champion: { b: pa() },
    challenger: { b: pa({ unparseable: 6 }) },
    promote: false,
    reasons: [/^b parse rate 75\.0% \(floor 90\.0%\): below the floor$/],
  },
  {
    name: 'requireGain met',
    champion: { a: pw({ exactAgreement: 0.2 }) },
    challenger: { a: pw({ exactAgreement: 0.79 }) },
    rules: { requireGain: { suite: 'a', metric: 'exactAgreement', min: 0.1 } },
    promote: true,
    reasons: [/^a exactAgreement 0\.200 → 0\.790 \(gain \+0\.590, required 0\.100\): ok$/],
  },
  {
    name: 'requireGain not met rejects even when nothing dropped',
    champion: { a: pw({ pearson: 0.4 }) },
    challenger: { a: pw({ pearson: 0.45 }) },
    rules: { requireGain: { suite: 'a', min: 2 } },
    promote: false,
    reasons: [/^a pearson 0\.400 → 0\.450 \(gain \+0\.050, required 2\.000\): not enough$/, /^a pearson 0\.400 → 0\.450 .*: ok$/],
  },
  {
    name: 'requireGain on MAE counts a fall as a gain',
    champion: { a: pw({ mae: 1.0 }) },
    challenger: { a: pw({ mae: 0.7 }) },
    rules: { requireGain: { suite: 'a', metric: 'mae', min: 0.25 } },
    promote: true,
    reasons: [/mae 1\.000 → 0\.700 \(gain \+0\.300, required 0\.250\): ok/],
  },
  {
    name: 'requireGain with a null metric cannot be measured and fails',
    champion: { a: pw({ pearson: null }) },
    challenger: { a: pw({ pearson: 0.3 }) },
    rules: { requireGain: { suite: 'a', min: 0.1 } },
    promote: false,
    reasons: [/required gain 0\.100: undefined → 0\.300, the gain cannot be measured: failed/],
  },
  {
    name: 'rules.suites (the suites without gate: false) restricts the no-drop and parse rules',
    champion: { a: pw({ pearson: 0.4 }), noisy: pa({ accuracy: 0.6 }) },
    challenger: { a: pw({ pearson: 0.5 }), noisy: pa({ accuracy: 0.3 }) },
    rules: { suites: ['a'] },
    promote: true,
    reasons: [/^a pearson/],
  },
  {
    name: 'a disabled gate promotes everything',
    champion: { a: pw({ pearson: 0.9 }) },
    challenger: { a: pw({ pearson: 0.1 }) },
    rules: { enabled: false },
    promote: true,
    reasons: [/gate disabled/],
  },
];

for (const c of CASES) {
  test(`gate: ${c.name}`, () => {
    const decision = decidePromotion(c.champion, c.challenger, { ...RULES, ...c.rules });
    assert.equal(decision.promote, c.promote, decision.reasons.join('\n'));
    for (const r of c.reasons) assert.ok(decision.reasons.some((line) => r.test(line)), `${r} in:\n${decision.reasons.join('\n')}`);
    assert.equal(decision.reasons.length, decision.checks.length || 1);
    assert.equal(decision.checks.every((x) => x.passed), c.promote, 'promote is true exactly when every check passed');
  });
}

test('gate: one reason per rule and suite, champion suites first, deterministic', () => {
  const champion = { a: pw(), b: pa() };
  const challenger = { b: pa(), a: pw(), c: pw() };
  const rules: GateRules = { ...RULES, requireGain: { suite: 'a', min: 0.01 } };
  const one = decidePromotion(champion, challenger, rules);
  assert.deepEqual(
    one.checks.map((x) => `${x.rule}:${x.suite}`),
    ['no-drop:a', 'parse-floor:a', 'no-drop:b', 'parse-floor:b', 'no-drop:c', 'parse-floor:c', 'require-gain:a'],
  );
  assert.deepEqual(decidePromotion(champion, challenger, rules), one);
});

test('gate: parse rate of a relative-mode pairwise suite counts its A/B verdicts', () => {
  const m = pa({
    mode: 'relative',
    unparseable: 3,
    relative: { n: 24, requests: 48, accuracy: 0.5, positionConsistency: 0.5, unparseable: 3, preferA: 0.5, goldTies: 0, orderSeed: 1 },
  });
  assert.equal(suiteParseRate(m), 1 - 3 / 48);
  assert.equal(suiteParseRate(pw({ n: 0, parseRate: 0 })), null);
});

test('gate: the parse floor checks the judge\'s own parse rate; markers forced by decoding do not count', () => {
  const cases: Array<[string, SuiteMetrics, number | null]> = [
    ['recorded before own rates: parseRate', pw({ parseRate: 0.95 }), 0.95],
    ['forced markers: parsed 100%, its own 30%', pw({ parseRate: 1, ownParseRate: 0.3, forcedMarkers: 70 }), 0.3],
    ['pairwise with an own rate over both sides', pa({ unparseable: 0, ownParseRate: 0.5, forcedMarkers: 24 }), 0.5],
    ['empty suite', pw({ n: 0, parseRate: 0, ownParseRate: 0 }), null],
  ];
  for (const [name, m, want] of cases) assert.equal(suiteParseRate(m), want, name);
  const decision = decidePromotion({ a: pw() }, { a: pw({ ownParseRate: 0.3, forcedMarkers: 70 }) }, { ...RULES, suites: ['a'] });
  assert.equal(decision.promote, false, 'a judge whose format decoding forced fails a 90% floor');
  assert.ok(decision.reasons.some((r) => /parse/.test(r) && /30\.0/.test(r)), decision.reasons.join('\n'));
});

const PENDING = { iteration: 2, reasons: ['a pearson ...: ok'] };

const APPROVALS: Array<[string, unknown, typeof PENDING | null, RegExp | null]> = [
  ['a valid approval of the pending iteration', { iteration: 2, approve: true, by: 'alice' }, PENDING, null],
  ['a valid rejection with a reason', { iteration: 2, approve: false, reason: 'too risky' }, PENDING, null],
  ['the wrong iteration names the pending one and the command', { iteration: 1, approve: true }, PENDING, /iteration 1 is not awaiting approval; iteration 2 is \(judgeloop approve run-1 --iteration 2\)/],
  ['nothing pending', { iteration: 1, approve: true }, null, /no promotion of run run-1 is awaiting approval now/],
  ['iteration 0 is never a challenger', { iteration: 0, approve: true }, PENDING, /iteration must be an iteration number >= 1/],
  ['approve must be a boolean', { iteration: 2, approve: 'yes' }, PENDING, /approve must be true or false/],
  ['an empty approver name', { iteration: 2, approve: true, by: ' ' }, PENDING, /by must be a non-empty name/],
  ['not an object', 'approve', PENDING, /needs \{iteration, approve/],
];

for (const [name, req, pending, problem] of APPROVALS) {
  test(`approval: ${name}`, () => {
    const got = approvalProblem(req, pending, 'run-1');
    if (problem === null) assert.equal(got, null);
    else assert.match(got ?? '', problem);
  });
}

test('approval: the reasons a sign-off or a timeout adds', () => {
  assert.equal(approvalReason({ iteration: 1, approve: true, by: 'alice' }), 'approved by alice');
  assert.equal(approvalReason({ iteration: 1, approve: false, by: 'bob', reason: ' worse on vicuna ' }), 'rejected by bob: worse on vicuna');
  assert.equal(approvalReason({ iteration: 1, approve: true }), 'approved by unnamed approver');
  assert.match(timeoutReason(24), /^approval timed out after 24 h/);
});
