/**
 * The synthetic judge task "review verdict": a short product review whose gold score is the level of the
 * one verdict word it contains (awful -> 1 ... outstanding -> 5). The rest of the review is neutral filler,
 * so a judge that learns to find the verdict word scores perfectly, and even a tiny randomly initialised
 * judge can learn it on a CPU: the loop's effect (agreement with gold rising over iterations) becomes
 * visible and testable in minutes.
 *
 * Pure and deterministic: every choice comes from core/common/rng.ts seeded with `seed`; the same options give
 * byte-identical JSONL (scripts/make-synthetic.ts writes it to datasets/synthetic/).
 */
import { createRng, deriveSeed, pick, shuffle, type Rng } from '../common/rng';
import { toJsonlLine, type PointwiseExample, type Rubric } from './records';

export const SYNTHETIC_TASK = 'review-verdict';
export const DEFAULT_SYNTHETIC_SEED = 1234;
export const DEFAULT_TRAIN_SIZE = 400;
export const DEFAULT_HELDOUT_SIZE = 100;
/** The split the promotion gate selects on, apart from the held-out split the results report. */
export const DEFAULT_VALIDATION_SIZE = 60;

/** Three synonyms per score level; exactly one of these words appears in each response. */
export const LEVEL_WORDS: Readonly<Record<1 | 2 | 3 | 4 | 5, readonly string[]>> = {
  1: ['awful', 'dreadful', 'terrible'],
  2: ['poor', 'weak', 'mediocre'],
  3: ['okay', 'average', 'decent'],
  4: ['good', 'solid', 'nice'],
  5: ['superb', 'excellent', 'outstanding'],
};

export const SYNTHETIC_LEVELS = [1, 2, 3, 4, 5] as const;
export type SyntheticLevel = (typeof SYNTHETIC_LEVELS)[number];

/** Every level word with its level, in level order. */
export const ALL_LEVEL_WORDS: ReadonlyArray<{ word: string; level: SyntheticLevel }> = SYNTHETIC_LEVELS.flatMap(
  (level) => LEVEL_WORDS[level].map((word) => ({ word, level })),
);

export const SYNTHETIC_RUBRIC: Rubric = {
  criteria: "How favourable is the reviewer's overall verdict on the product?",
  score1: 'The verdict is very negative.',
  score2: 'The verdict is somewhat negative.',
  score3: 'The verdict is neutral.',
  score4: 'The verdict is positive.',
  score5: 'The verdict is enthusiastic.',
};

export const PRODUCT_ITEMS: readonly string[] = [
  'lamp', 'kettle', 'backpack', 'umbrella', 'toaster', 'blender', 'desk chair', 'notebook', 'headphones',
  'water bottle', 'phone case', 'rug', 'mug', 'jacket', 'alarm clock', 'keyboard', 'mouse', 'blanket',
  'frying pan', 'teapot', 'candle', 'wallet', 'suitcase', 'scarf', 'bike helmet', 'yoga mat', 'pillow',
  'towel set', 'speaker', 'phone charger', 'plant pot', 'coffee grinder',
];

export function syntheticInstruction(item: string): string {
  return `Write a short review of the ${item} you bought.`;
}

/**
 * Neutral filler sentences. `{item}` is the product; `{a|b|c}` picks one option. None holds a level word
 * (a test checks it).
 */
export const FILLER_TEMPLATES: readonly string[] = [
  'It arrived {on Tuesday|after a week|in two days|last month|before the weekend} in a {plain|brown|small|large} box.',
  'Shipping took {three|four|five|six} days and the parcel was {taped shut|a bit dented|left at the door}.',
  'The colour is {blue|grey|green|black|white|beige}, as shown in the photos.',
  'I use the {item} {in the kitchen|at work|at home|in the office} {most mornings|now and then|on weekends}.',
  'It came with {a manual|a spare part|two batteries|a small bag|a paper receipt} in the box.',
  'The {item} weighs about {two hundred|four hundred|six hundred|eight hundred} grams.',
  'My {sister|neighbour|friend|colleague} bought the same one {last year|in March|a while ago}.',
  'I ordered it online {one evening|during my lunch break|on a Sunday} and paid by card.',
  'The label says it was made {last year|this spring|in the autumn}.',
  'The box also had {a leaflet|some tissue paper|a thank you card} inside.',
];

/**
 * Sentences carrying the verdict. `{word}` is the level word. Every one ends with the word and closes the
 * review, so the verdict word sits at the same distance from the end of every prompt: a tiny judge learns to
 * read it with one relative-position attention pattern (in a random position it did not learn it in a few
 * hundred DPO steps), while the wording before it still varies.
 */
export const VERDICT_TEMPLATES: readonly string[] = [
  'Overall the {item} is {word}.',
  'I found it {word}.',
  'Honestly, the quality is {word}.',
  'My verdict: {word}.',
  'All in all, {word}.',
  'To sum up, it is {word}.',
];

const WORD_RE = /[a-z]+/g;

/** Lower-case word tokens of a text (letters only). */
export function tokenizeWords(text: string): string[] {
  return text.toLowerCase().match(WORD_RE) ?? [];
}

/** The level words found in a text, with their levels, in order of appearance. */
export function findLevelWords(text: string): Array<{ word: string; level: SyntheticLevel }> {
  const byWord = new Map(ALL_LEVEL_WORDS.map((e) => [e.word, e.level] as const));
  const found: Array<{ word: string; level: SyntheticLevel }> = [];
  for (const tok of tokenizeWords(text)) {
    const level = byWord.get(tok);
    if (level !== undefined) found.push({ word: tok, level });
  }
  return found;
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Fills `{item}`, `{word}`, `{Word}` and `{a|b|c}` slots, in order, from `rng`. */
function fillTemplate(rng: Rng, template: string, item: string, word = ''): string {
  return template.replace(/\{([^}]*)\}/g, (_m, slot: string) => {
    if (slot === 'item') return item;
    if (slot === 'word') return word;
    if (slot === 'Word') return capitalise(word);
    return pick(rng, slot.split('|'));
  });
}

export interface SyntheticReview {
  item: string;
  keyword: string;
  level: SyntheticLevel;
  response: string;
}

/** Reviews have at least this many words (2-3 sentences, about 15-30 words). */
export const MIN_REVIEW_WORDS = 15;

/** One review of `item` at `level`: 1-2 distinct fillers, then one verdict sentence that ends the review. */
export function makeReview(rng: Rng, item: string, level: SyntheticLevel): SyntheticReview {
  const keyword = pick(rng, LEVEL_WORDS[level]);
  const verdict = fillTemplate(rng, pick(rng, VERDICT_TEMPLATES), item, keyword);
  const templates = shuffle(rng, FILLER_TEMPLATES);
  const fillers = [fillTemplate(rng, templates[0], item)];
  // A second filler half of the time, and always when the review would otherwise be under 15 words.
  const words = (s: string) => s.split(' ').length;
  if (rng.int(2) === 1 || words(verdict) + words(fillers[0]) < MIN_REVIEW_WORDS) {
    fillers.push(fillTemplate(rng, templates[1], item));
  }
  const sentences = [...fillers, verdict];
  return { item, keyword, level, response: sentences.join(' ') };
}

export interface SyntheticOptions {
  seed?: number;
  train?: number;
  heldout?: number;
  validation?: number;
}

export type SyntheticSplit = 'train' | 'heldout' | 'validation';

export interface SyntheticSplits {
  seed: number;
  train: PointwiseExample[];
  heldout: PointwiseExample[];
  validation: PointwiseExample[];
}

/** `syn-train-0001`: numbered from 1, zero-padded to at least four digits. */
export function syntheticId(split: SyntheticSplit, index: number, total: number): string {
  const width = Math.max(4, String(total).length);
  return `syn-${split}-${String(index + 1).padStart(width, '0')}`;
}

/** Levels for `n` examples, balanced (counts differ by at most one, lower levels first), then shuffled. */
export function balancedLevels(rng: Rng, n: number): SyntheticLevel[] {
  const levels: SyntheticLevel[] = [];
  for (let i = 0; i < n; i++) levels.push(SYNTHETIC_LEVELS[i % SYNTHETIC_LEVELS.length]);
  return shuffle(rng, levels);
}

function checkCount(name: string, n: number): void {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`synthetic: ${name} must be a non-negative integer, got ${String(n)}`);
}

/**
 * The three splits. Each split draws from its own stream (`deriveSeed(seed, 'synthetic', split)`); a review
 * whose (instruction, response) already occurred in an earlier split is redrawn, so the splits are disjoint.
 * Validation is drawn last, so adding it left the train and held-out files as they were.
 */
export function makeSyntheticSplits(options: SyntheticOptions = {}): SyntheticSplits {
  const seed = options.seed ?? DEFAULT_SYNTHETIC_SEED;
  const trainSize = options.train ?? DEFAULT_TRAIN_SIZE;
  const heldoutSize = options.heldout ?? DEFAULT_HELDOUT_SIZE;
  const validationSize = options.validation ?? DEFAULT_VALIDATION_SIZE;
  checkCount('train', trainSize);
  checkCount('heldout', heldoutSize);
  checkCount('validation', validationSize);
  const seen = new Set<string>();
  const build = (split: SyntheticSplit, n: number): PointwiseExample[] => {
    const rng = createRng(deriveSeed(seed, 'synthetic', split));
    const levels = balancedLevels(rng, n);
    return levels.map((level, i) => {
      for (let attempt = 0; ; attempt++) {
        const item = pick(rng, PRODUCT_ITEMS);
        const review = makeReview(rng, item, level);
        const instruction = syntheticInstruction(item);
        const key = `${instruction}\n${review.response}`;
        if (seen.has(key)) {
          if (attempt > 1000) throw new Error('synthetic: could not draw a distinct review (too many examples?)');
          continue;
        }
        seen.add(key);
        return {
          id: syntheticId(split, i, n),
          instruction,
          response: review.response,
          rubric: { ...SYNTHETIC_RUBRIC },
          gold_score: level,
          meta: { task: SYNTHETIC_TASK, keyword: review.keyword, level },
        };
      }
    });
  };
  const train = build('train', trainSize);
  const heldout = build('heldout', heldoutSize);
  const validation = build('validation', validationSize);
  return { seed, train, heldout, validation };
}

/** File contents (JSONL) of the three splits, exactly as committed under datasets/synthetic/. */
export function renderSyntheticFiles(options: SyntheticOptions = {}): { 'train.jsonl': string; 'heldout.jsonl': string; 'validation.jsonl': string } {
  const { train, heldout, validation } = makeSyntheticSplits(options);
  return {
    'train.jsonl': train.map(toJsonlLine).join(''),
    'heldout.jsonl': heldout.map(toJsonlLine).join(''),
    'validation.jsonl': validation.map(toJsonlLine).join(''),
  };
}
