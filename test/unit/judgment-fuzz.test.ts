/**
 * Fuzz tests of the judgment parsers: thousands of seeded outputs built from fragments that stress them
 * (markers inside rationales, numbers and rubric lines in rationales, out-of-range and malformed scores,
 * trailing text), checked against invariants rather than expected values. Seeded with core/common/rng.ts, so a
 * failure names its iteration and reproduces.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRng, pick, type Rng } from '../../core/common/rng';
import {
  DEFAULT_MARKER,
  formatJudgment,
  formatPairwiseVerdict,
  parseJudgment,
  parsePairwiseVerdict,
  PAIRWISE_UNPARSEABLE_REASONS,
  UNPARSEABLE_REASONS,
  type ParsedJudgment,
  type ParsedPairwiseVerdict,
} from '../../core/judging/judgment';

const OUTPUTS = 5000;
const MARKERS = [DEFAULT_MARKER, 'Score:', '<<S>>'];

/** Rationale fragments: plain words, numbers, rubric lines, the marker's pieces, whitespace, non-ASCII. */
function rationaleFragment(rng: Rng, marker: string): string {
  return pick(rng, [
    () => pick(rng, ['The response', ' is accurate', ' but vague', ' misses the point', '.', ',', ' ']),
    () => pick(rng, [' 3 out of 5', ' 4.5', ' -2', ' 10/10', ' 1', ' 0', ' score 5']),
    () => pick(rng, ['\nScore 1: Wrong.', '\nScore 5: Right.', ' (4)', ' Score: ', ' [score] ']),
    () => ` ${marker} ${rng.int(12) - 1}`, // an earlier "verdict" quoted in the rationale
    () => ` ${marker}`,
    () => pick(rng, [' [RES', 'ULT]', ' [', ']', ' <<', '>>', 'RESULT']),
    () => pick(rng, ['\n', '\n\n', '\t', '  ']),
    // Lone surrogates (a JSON "\ud800" from a broken writer) next to a valid pair: not text.
    () => pick(rng, [' é', ' 🙂', ' 数字', ' \uD800', ' x\uDFFF']),
  ])();
}

function rationale(rng: Rng, marker: string): string {
  let out = '';
  for (let k = rng.int(8); k > 0; k--) out += rationaleFragment(rng, marker);
  return out;
}

/** What follows the last marker: valid, out-of-range, malformed or missing scores, with or without trailing text. */
function tail(rng: Rng, min: number, max: number): string {
  const space = pick(rng, ['', ' ', '  ', '\n', ' \n ']);
  const score = pick(rng, [
    () => String(min + rng.int(max - min + 1)),
    () => String(max + 1 + rng.int(20)),
    () => String(min - 1 - rng.int(5)),
    () => `+${min + rng.int(max - min + 1)}`,
    () => `0${min + rng.int(max - min + 1)}`,
    () => `${min}.${rng.int(10)}`,
    () => pick(rng, ['', 'four', '(3)', ': 2', '.', '-', 'A']),
  ])();
  const trailing = pick(rng, ['', '', '', ' ', '.', '.\n', ' .', '..', ' out of 5', '/5', '\nThanks', '!', ' 3']);
  return space + score + trailing;
}

interface Case {
  text: string;
  marker: string;
  min: number;
  max: number;
  /** Present when the text is `before + marker + after` and `after` holds no marker. */
  last?: { before: string; after: string };
}

function generateCase(rng: Rng): Case {
  const marker = pick(rng, MARKERS);
  const min = rng.int(3);
  const max = min + 1 + rng.int(9 - min);
  const shape = rng.int(10);
  if (shape === 0) return { text: rationale(rng, marker), marker, min, max }; // maybe no marker at all
  const before = rationale(rng, marker);
  const after = tail(rng, min, max);
  const text = `${before}${pick(rng, [' ', '', '\n'])}${marker}${after}`;
  const at = text.lastIndexOf(marker);
  const split = { before: text.slice(0, at), after: text.slice(at + marker.length) };
  return { text, marker, min, max, last: split.after.includes(marker) ? undefined : split };
}

/** A prompt-like rubric, with numbers, score lines and a format example that shows the marker. */
function rubricText(rng: Rng, marker: string, min: number, max: number): string {
  const lines = ['### Rubric', pick(rng, ['Is the answer correct?', 'How helpful is it (1-5)?'])];
  for (let s = min; s <= max; s++) lines.push(`Score ${s}: level ${s} of ${max}.`);
  lines.push(`Write a rationale, then ${marker} and an integer from ${min} to ${max}, like this:`);
  lines.push(`<rationale> ${marker} <score>`, `Example: fine ${marker} ${max}`, '### Feedback', '');
  return lines.join('\n');
}

const SCORE_AFTER_MARKER = /^([+-]?\d+)\.?$/;

/** Written here independently of core/judging/judgment.ts: a high surrogate not followed by a low one, or the reverse. */
function hasLoneSurrogate(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
      else return true;
    } else if (c >= 0xdc00 && c <= 0xdfff) return true;
  }
  return false;
}

function outcome(p: ParsedJudgment): string {
  return p.status === 'ok' ? `ok:${p.score}` : p.reason;
}

test(`fuzz: parseJudgment over ${OUTPUTS} generated outputs keeps its invariants`, () => {
  const rng = createRng(0x5eed);
  const seen = new Map<string, number>();
  for (let i = 0; i < OUTPUTS; i++) {
    const c = generateCase(rng);
    const where = `output ${i}: ${JSON.stringify(c)}`;
    const options = { min: c.min, max: c.max, marker: c.marker };

    // 1. Never throws, whatever the text.
    let got: ParsedJudgment;
    try {
      got = parseJudgment(c.text, options);
    } catch (err) {
      assert.fail(`${where}: threw ${String(err)}`);
    }
    const key = got.status === 'ok' ? 'ok' : got.reason;
    seen.set(key, (seen.get(key) ?? 0) + 1);

    // 0. Text that is not text (a lone surrogate anywhere) is invalid_text, whatever else it holds.
    assert.equal(got.status === 'unparseable' && got.reason === 'invalid_text', hasLoneSurrogate(c.text), where);
    if (hasLoneSurrogate(c.text)) continue;

    const at = c.text.lastIndexOf(c.marker);
    if (got.status === 'ok') {
      // 2. An ok judgment has an in-range integer score and a trimmed, non-empty rationale, and its
      //    canonical form parses back to the same.
      assert.ok(Number.isInteger(got.score) && got.score >= c.min && got.score <= c.max, where);
      assert.ok(got.rationale !== '' && got.rationale === got.rationale.trim(), where);
      assert.deepEqual(parseJudgment(formatJudgment(got.rationale, got.score, c.marker), options), got, where);
      // 3. The score is what follows the LAST marker, the rationale all that precedes it.
      assert.ok(at >= 0, where);
      const after = SCORE_AFTER_MARKER.exec(c.text.slice(at + c.marker.length).trim());
      assert.ok(after && Number(after[1]) === got.score, where);
      assert.equal(got.rationale, c.text.slice(0, at).trim(), where);
    } else {
      assert.ok(UNPARSEABLE_REASONS.includes(got.reason) && got.detail.length > 0, where);
      assert.equal(got.reason === 'no_marker', at < 0, where);
    }

    // 3'. Only the text after the last marker decides the score: any other (non-blank) text before it gives
    //     the same outcome.
    if (c.last) {
      const other = parseJudgment(`Another rationale ${c.marker} 1 entirely${c.marker}${c.last.after}`, options);
      const blankBefore = c.last.before.trim() === '';
      if (!blankBefore) assert.equal(outcome(other), outcome(got), where);
      else if (got.status === 'unparseable' && got.reason === 'empty_rationale') assert.equal(other.status, 'ok', where);
    }

    // 4. A prompt-like rubric (numbers, score lines, even the marker) before the judgment never changes the
    //    score or the reason; it can only turn an empty rationale into a non-empty one.
    if (at >= 0) {
      const rubric = rubricText(rng, c.marker, c.min, c.max);
      const withRubric = parseJudgment(rubric + c.text, options);
      if (got.status === 'unparseable' && got.reason === 'empty_rationale') {
        assert.equal(withRubric.status, 'ok', where);
      } else {
        assert.equal(outcome(withRubric), outcome(got), where);
        if (got.status === 'ok' && withRubric.status === 'ok') {
          assert.equal(withRubric.rationale, (rubric + c.text.slice(0, at)).trim(), where);
        }
      }
    }
  }
  // The generator reaches every outcome, so none of the invariants above is checked vacuously.
  assert.deepEqual([...seen.keys()].sort(), ['ok', ...UNPARSEABLE_REASONS].sort(), JSON.stringify([...seen]));
  assert.ok((seen.get('ok') ?? 0) > OUTPUTS / 10, `ok outcomes: ${seen.get('ok')}`);
});

function verdictTail(rng: Rng): string {
  const space = pick(rng, ['', ' ', '\n', ' \n ']);
  const verdict = pick(rng, ['A', 'B', 'A', 'B', 'a', 'b', 'C', 'AB', 'tie', '(A)', 'Response B', '', '.', '3']);
  const trailing = pick(rng, ['', '', ' ', '.', '.\n', '..', ' or B', ' is better', '!', '\nThanks']);
  return space + verdict + trailing;
}

function verdictOutcome(p: ParsedPairwiseVerdict): string {
  return p.status === 'ok' ? `ok:${p.verdict}` : p.reason;
}

test(`fuzz: parsePairwiseVerdict over ${OUTPUTS} generated outputs keeps its invariants`, () => {
  const rng = createRng(0xab);
  const seen = new Set<string>();
  for (let i = 0; i < OUTPUTS; i++) {
    const marker = pick(rng, MARKERS);
    const before = rationale(rng, marker) + pick(rng, [' A is better.', ' B wins [RESULT] A', ' ', '']);
    const text = rng.int(10) === 0 ? before : `${before} ${marker}${verdictTail(rng)}`;
    const where = `output ${i}: ${JSON.stringify({ text, marker })}`;
    const got = parsePairwiseVerdict(text, { marker });
    seen.add(got.status === 'ok' ? 'ok' : got.reason);
    assert.equal(got.status === 'unparseable' && got.reason === 'invalid_text', hasLoneSurrogate(text), where);
    if (hasLoneSurrogate(text)) continue;
    const at = text.lastIndexOf(marker);
    if (got.status === 'ok') {
      assert.ok(got.verdict === 'A' || got.verdict === 'B', where);
      assert.match(text.slice(at + marker.length).trim(), new RegExp(`^${got.verdict}\\.?$`), where);
      assert.equal(got.rationale, text.slice(0, at).trim(), where);
      assert.deepEqual(parsePairwiseVerdict(formatPairwiseVerdict(got.rationale, got.verdict, marker), { marker }), got, where);
    } else {
      assert.ok(PAIRWISE_UNPARSEABLE_REASONS.includes(got.reason), where);
    }
    if (at >= 0) {
      const rubric = `### Criterion\nWhich is better, A or B?\nAnswer like this: <rationale> ${marker} <A or B>\nExample: x ${marker} B\n`;
      const withRubric = parsePairwiseVerdict(rubric + text, { marker });
      if (got.status === 'unparseable' && got.reason === 'empty_rationale') assert.equal(withRubric.status, 'ok', where);
      else assert.equal(verdictOutcome(withRubric), verdictOutcome(got), where);
    }
  }
  assert.deepEqual([...seen].sort(), ['ok', ...PAIRWISE_UNPARSEABLE_REASONS].sort());
});
