import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRng, type Rng } from '../../core/common/rng';
import {
  DEFAULT_MARKER,
  formatJudgment,
  formatPairwiseVerdict,
  parseJudgment,
  parsePairwiseVerdict,
  PAIRWISE_UNPARSEABLE_REASONS,
  type ParsedJudgment,
  type ParsedPairwiseVerdict,
} from '../../core/judging/judgment';

const SCALE_1_5 = { min: 1, max: 5, marker: DEFAULT_MARKER };

test('parseJudgment: table of accepted and rejected outputs', () => {
  const cases: Array<{ text: string; expected: ParsedJudgment | string; options?: typeof SCALE_1_5 }> = [
    // Accepted.
    { text: 'Good answer. [RESULT] 4', expected: { status: 'ok', rationale: 'Good answer.', score: 4 } },
    { text: '  Good.\n[RESULT]4', expected: { status: 'ok', rationale: 'Good.', score: 4 } },
    { text: 'Good. [RESULT]\n 5 \n', expected: { status: 'ok', rationale: 'Good.', score: 5 } },
    { text: 'Good. [RESULT] 3.', expected: { status: 'ok', rationale: 'Good.', score: 3 } },
    { text: 'Good. [RESULT] 3.\n\n', expected: { status: 'ok', rationale: 'Good.', score: 3 } },
    { text: 'Good. [RESULT] 01', expected: { status: 'ok', rationale: 'Good.', score: 1 } },
    { text: 'Good. [RESULT] +2', expected: { status: 'ok', rationale: 'Good.', score: 2 } },
    { text: 'Feedback: fine. [RESULT] 5', expected: { status: 'ok', rationale: 'Feedback: fine.', score: 5 } },
    // The last marker wins; earlier markers stay in the rationale.
    { text: 'I said [RESULT] 2 but on reflection [RESULT] 4', expected: { status: 'ok', rationale: 'I said [RESULT] 2 but on reflection', score: 4 } },
    { text: 'A [RESULT] 4 [RESULT] 9', expected: 'score_out_of_range' },
    { text: 'A [RESULT] 4 then [RESULT]', expected: 'no_score' },
    // The bounds are inclusive.
    { text: 'x [RESULT] 1', expected: { status: 'ok', rationale: 'x', score: 1 } },
    { text: 'x [RESULT] 5', expected: { status: 'ok', rationale: 'x', score: 5 } },
    { text: 'x [RESULT] 0', expected: 'score_out_of_range' },
    { text: 'x [RESULT] 6', expected: 'score_out_of_range' },
    { text: 'x [RESULT] -1', expected: 'score_out_of_range' },
    { text: 'x [RESULT] 99999999999999999999999', expected: 'score_out_of_range' },
    { text: 'x [RESULT] 0', expected: { status: 'ok', rationale: 'x', score: 0 }, options: { min: 0, max: 9, marker: DEFAULT_MARKER } },
    { text: 'x [RESULT] 9', expected: { status: 'ok', rationale: 'x', score: 9 }, options: { min: 0, max: 9, marker: DEFAULT_MARKER } },
    // Rejected: the marker.
    { text: '', expected: 'no_marker' },
    { text: 'Good answer. 4', expected: 'no_marker' },
    { text: 'Good answer. [result] 4', expected: 'no_marker' },
    { text: 'Good answer. RESULT 4', expected: 'no_marker' },
    // Rejected: the score.
    { text: 'Good. [RESULT]', expected: 'no_score' },
    { text: 'Good. [RESULT]   \n', expected: 'no_score' },
    { text: 'Good. [RESULT] four', expected: 'no_score' },
    { text: 'Good. [RESULT] (4)', expected: 'no_score' },
    { text: 'Good. [RESULT]: 4', expected: 'no_score' },
    { text: 'Good. [RESULT] .', expected: 'no_score' },
    { text: 'Good. [RESULT] 4.5', expected: 'not_integer' },
    { text: 'Good. [RESULT] .5', expected: 'not_integer' },
    { text: 'Good. [RESULT] 4 out of 5', expected: 'trailing_text' },
    { text: 'Good. [RESULT] 4/5', expected: 'trailing_text' },
    { text: 'Good. [RESULT] 4 .', expected: 'trailing_text' },
    { text: 'Good. [RESULT] 4..', expected: 'trailing_text' },
    { text: 'Good. [RESULT] 4!', expected: 'trailing_text' },
    { text: 'Good. [RESULT] 4\nThanks', expected: 'trailing_text' },
    // Rejected: the rationale.
    { text: '[RESULT] 4', expected: 'empty_rationale' },
    { text: ' \n [RESULT] 4', expected: 'empty_rationale' },
    // Score problems are reported before an empty rationale.
    { text: '[RESULT] 7', expected: 'score_out_of_range' },
    // Other markers.
    { text: 'Fine. Score: 3', expected: { status: 'ok', rationale: 'Fine.', score: 3 }, options: { min: 1, max: 5, marker: 'Score:' } },
    { text: 'a.b*c [x] 2', expected: { status: 'ok', rationale: 'a.b*c', score: 2 }, options: { min: 1, max: 5, marker: '[x]' } },
    { text: 'Fine. [RESULT] 3', expected: 'no_marker', options: { min: 1, max: 5, marker: 'Score:' } },
  ];
  for (const c of cases) {
    const got = parseJudgment(c.text, c.options ?? SCALE_1_5);
    if (typeof c.expected === 'string') {
      assert.equal(got.status, 'unparseable', JSON.stringify(c.text));
      if (got.status === 'unparseable') {
        assert.equal(got.reason, c.expected, JSON.stringify(c.text));
        assert.ok(got.detail.length > 0);
      }
    } else {
      assert.deepEqual(got, c.expected, JSON.stringify(c.text));
    }
  }
});

test('parsePairwiseVerdict: table of accepted and rejected outputs', () => {
  const ok = (rationale: string, verdict: 'A' | 'B'): ParsedPairwiseVerdict => ({ status: 'ok', rationale, verdict });
  const cases: Array<{ text: string; expected: ParsedPairwiseVerdict | string; marker?: string }> = [
    // Accepted: exactly A or B, optional whitespace and one period.
    { text: 'A is clearer. [RESULT] A', expected: ok('A is clearer.', 'A') },
    { text: 'B is right. [RESULT] B', expected: ok('B is right.', 'B') },
    { text: 'ok [RESULT]B', expected: ok('ok', 'B') },
    { text: 'ok\n[RESULT]\n A \n', expected: ok('ok', 'A') },
    { text: 'ok [RESULT] A.', expected: ok('ok', 'A') },
    { text: 'ok [RESULT] B.\n\n', expected: ok('ok', 'B') },
    // The last marker wins; earlier markers and verdicts stay in the rationale.
    { text: 'First [RESULT] A, then [RESULT] B', expected: ok('First [RESULT] A, then', 'B') },
    { text: 'x [RESULT] A [RESULT]', expected: 'no_verdict' },
    { text: 'x [RESULT] A [RESULT] C', expected: 'invalid_verdict' },
    // Rejected: the marker.
    { text: '', expected: 'no_marker' },
    { text: 'A is better. A', expected: 'no_marker' },
    { text: 'A is better. [result] A', expected: 'no_marker' },
    // Rejected: the verdict.
    { text: 'x [RESULT]', expected: 'no_verdict' },
    { text: 'x [RESULT]  \n ', expected: 'no_verdict' },
    { text: 'x [RESULT] a', expected: 'invalid_verdict' },
    { text: 'x [RESULT] b.', expected: 'invalid_verdict' },
    { text: 'x [RESULT] C', expected: 'invalid_verdict' },
    { text: 'x [RESULT] tie', expected: 'invalid_verdict' },
    { text: 'x [RESULT] Response A', expected: 'invalid_verdict' },
    { text: 'x [RESULT] (A)', expected: 'invalid_verdict' },
    { text: 'x [RESULT] AB', expected: 'invalid_verdict' },
    { text: 'x [RESULT] 1', expected: 'invalid_verdict' },
    { text: 'x [RESULT] A or B', expected: 'trailing_text' },
    { text: 'x [RESULT] B is better', expected: 'trailing_text' },
    { text: 'x [RESULT] A!', expected: 'trailing_text' },
    { text: 'x [RESULT] A..', expected: 'trailing_text' },
    { text: 'x [RESULT] A\nThanks', expected: 'trailing_text' },
    // Rejected: the rationale (after the verdict checks).
    { text: '[RESULT] A', expected: 'empty_rationale' },
    { text: ' \n[RESULT] B', expected: 'empty_rationale' },
    { text: '[RESULT] C', expected: 'invalid_verdict' },
    // Another marker.
    { text: 'Better: B', expected: ok('Better', 'B'), marker: ':' },
    { text: 'why <<V>> A', expected: ok('why', 'A'), marker: '<<V>>' },
  ];
  for (const c of cases) {
    const got = parsePairwiseVerdict(c.text, { marker: c.marker ?? DEFAULT_MARKER });
    if (typeof c.expected === 'string') {
      assert.equal(got.status, 'unparseable', JSON.stringify(c.text));
      if (got.status === 'unparseable') {
        assert.equal(got.reason, c.expected, JSON.stringify(c.text));
        assert.ok(PAIRWISE_UNPARSEABLE_REASONS.includes(got.reason));
        assert.ok(got.detail.length > 0);
      }
    } else {
      assert.deepEqual(got, c.expected, JSON.stringify(c.text));
    }
  }
  const lower = parsePairwiseVerdict('x [RESULT] a', { marker: DEFAULT_MARKER });
  assert.ok(lower.status === 'unparseable' && /lowercase/.test(lower.detail), 'a lowercase verdict says why');
  assert.throws(() => parsePairwiseVerdict('x [RESULT] A', { marker: ' ' }), RangeError);
  for (const verdict of ['A', 'B'] as const) {
    assert.deepEqual(parsePairwiseVerdict(formatPairwiseVerdict('  why  ', verdict), { marker: DEFAULT_MARKER }), ok('why', verdict));
  }
});

test('parseJudgment: invalid options throw', () => {
  assert.throws(() => parseJudgment('x [RESULT] 1', { min: 5, max: 1, marker: DEFAULT_MARKER }), RangeError);
  assert.throws(() => parseJudgment('x [RESULT] 1', { min: 1.5, max: 5, marker: DEFAULT_MARKER }), RangeError);
  assert.throws(() => parseJudgment('x [RESULT] 1', { min: 1, max: 5, marker: '' }), RangeError);
  assert.throws(() => parseJudgment('x [RESULT] 1', { min: 1, max: 5, marker: '  ' }), RangeError);
});

// ---- property-style checks over generated outputs (seeded, so a failure reproduces) ----

/** Characters chosen to stress the parser: digits, brackets, periods, whitespace and marker pieces. */
const PIECES = ['a', 'b', 'Z', ' ', ' ', '\n', '.', ',', '4', '7', '0', '[', ']', 'RESULT', '[RES', 'ULT]', '-', ':', 'é', '🙂'];

function randomText(rng: Rng, maxPieces: number): string {
  const n = rng.int(maxPieces + 1);
  let s = '';
  for (let i = 0; i < n; i++) s += PIECES[rng.int(PIECES.length)];
  return s;
}

/** A rationale with at least one visible character, so it is never empty after trimming. */
function randomRationale(rng: Rng): string {
  return randomText(rng, 12) + 'w' + randomText(rng, 12);
}

const MARKERS = [DEFAULT_MARKER, 'Score:', '<<S>>'];
const ITERATIONS = 2000;

test('property: rationale + marker + in-range score parses back to exactly that', () => {
  const rng = createRng(20241005);
  for (let i = 0; i < ITERATIONS; i++) {
    const marker = MARKERS[rng.int(MARKERS.length)];
    const min = rng.int(3);
    const max = min + 1 + rng.int(6);
    const score = min + rng.int(max - min + 1);
    const rationale = randomRationale(rng);
    const trailing = ['', ' ', '\n', '.', '. \n', '\t'][rng.int(6)];
    const text = `${rationale} ${marker} ${score}${trailing}`;
    assert.deepEqual(
      parseJudgment(text, { min, max, marker }),
      { status: 'ok', rationale: rationale.trim(), score },
      `iteration ${i}: ${JSON.stringify(text)}`,
    );
    assert.deepEqual(parseJudgment(formatJudgment(rationale, score, marker), { min, max, marker }), {
      status: 'ok',
      rationale: rationale.trim(),
      score,
    });
  }
});

test('property: with the marker inside the rationale, the last marker wins', () => {
  const rng = createRng(7);
  for (let i = 0; i < ITERATIONS; i++) {
    const first = 1 + rng.int(5);
    const last = 1 + rng.int(5);
    const before = randomRationale(rng);
    const middle = randomText(rng, 10);
    const text = `${before} [RESULT] ${first} ${middle} [RESULT] ${last}`;
    const got = parseJudgment(text, SCALE_1_5);
    assert.deepEqual(got, { status: 'ok', rationale: `${before} [RESULT] ${first} ${middle}`.trim(), score: last }, JSON.stringify(text));
  }
});

test('property: out-of-range scores, trailing words and missing markers are rejected with their reason', () => {
  const rng = createRng(99);
  for (let i = 0; i < ITERATIONS; i++) {
    const rationale = randomRationale(rng);
    const outOfRange = rng.int(2) === 0 ? -rng.int(50) : 6 + rng.int(1000);
    const got1 = parseJudgment(`${rationale} [RESULT] ${outOfRange}`, SCALE_1_5);
    assert.equal(got1.status === 'unparseable' && got1.reason, 'score_out_of_range', `score ${outOfRange}`);

    const word = ['points', 'out of 5', '/5', 'ok', '(final)'][rng.int(5)];
    const got2 = parseJudgment(`${rationale} [RESULT] ${1 + rng.int(5)} ${word}`, SCALE_1_5);
    assert.equal(got2.status === 'unparseable' && got2.reason, 'trailing_text', word);

    // Without a "[" the marker cannot occur.
    const noMarker = randomText(rng, 20).replace(/\[/g, '(');
    const got3 = parseJudgment(noMarker, SCALE_1_5);
    assert.equal(got3.status === 'unparseable' && got3.reason, 'no_marker', JSON.stringify(noMarker));
  }
});

test('property: parseJudgment never throws and an ok result is always consistent', () => {
  // Pieces weighted towards the marker and numbers, so every outcome occurs.
  const pieces = [...PIECES, '[RESULT]', ' [RESULT] ', '3', ' 2', '5.', '4.5', '9', 'word'];
  const rng = createRng(12345);
  const seen = new Set<string>();
  for (let i = 0; i < ITERATIONS; i++) {
    let text = '';
    for (let k = rng.int(12); k > 0; k--) text += pieces[rng.int(pieces.length)];
    const got = parseJudgment(text, SCALE_1_5);
    seen.add(got.status === 'ok' ? 'ok' : got.reason);
    if (got.status === 'ok') {
      assert.ok(Number.isInteger(got.score) && got.score >= 1 && got.score <= 5, JSON.stringify(text));
      assert.ok(got.rationale.length > 0 && got.rationale === got.rationale.trim());
      assert.ok(text.includes(`${got.rationale}`));
    }
  }
  assert.deepEqual([...seen].sort(), ['empty_rationale', 'no_marker', 'no_score', 'not_integer', 'ok', 'score_out_of_range', 'trailing_text']);
});
