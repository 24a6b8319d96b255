/**
 * Writes the synthetic "review verdict" task (core/data/synthetic.ts) as JSONL:
 *
 *   npx tsx scripts/make-synthetic.ts [--seed 1234] [--train 400] [--heldout 100] [--validation 60] [--out datasets/synthetic]
 *
 * The same options always give byte-identical files; the committed datasets/synthetic/ files are the
 * defaults (test/unit/synthetic.test.ts checks it).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  DEFAULT_HELDOUT_SIZE,
  DEFAULT_SYNTHETIC_SEED,
  DEFAULT_TRAIN_SIZE,
  DEFAULT_VALIDATION_SIZE,
  renderSyntheticFiles,
} from '../core/data/synthetic';

const USAGE =
  'usage: npx tsx scripts/make-synthetic.ts [--seed N] [--train N] [--heldout N] [--validation N] [--out DIR]\n' +
  `defaults: --seed ${DEFAULT_SYNTHETIC_SEED} --train ${DEFAULT_TRAIN_SIZE} --heldout ${DEFAULT_HELDOUT_SIZE} --validation ${DEFAULT_VALIDATION_SIZE} --out datasets/synthetic`;

interface Args {
  seed: number;
  train: number;
  heldout: number;
  validation: number;
  out: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    seed: DEFAULT_SYNTHETIC_SEED,
    train: DEFAULT_TRAIN_SIZE,
    heldout: DEFAULT_HELDOUT_SIZE,
    validation: DEFAULT_VALIDATION_SIZE,
    out: 'datasets/synthetic',
  };
  const int = (flag: string, v: string | undefined): number => {
    if (v === undefined || !/^\d+$/.test(v)) throw new Error(`${flag} needs a non-negative integer, got ${v ?? 'nothing'}`);
    return Number(v);
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    switch (flag) {
      case '--seed':
        args.seed = int(flag, value);
        i++;
        break;
      case '--train':
        args.train = int(flag, value);
        i++;
        break;
      case '--heldout':
        args.heldout = int(flag, value);
        i++;
        break;
      case '--validation':
        args.validation = int(flag, value);
        i++;
        break;
      case '--out':
        if (!value) throw new Error('--out needs a directory');
        args.out = value;
        i++;
        break;
      case '-h':
      case '--help':
        console.log(USAGE);
        process.exit(0);
      default:
        throw new Error(`unknown argument ${flag}`);
    }
  }
  return args;
}

function main(): void {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`make-synthetic: ${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  const files = renderSyntheticFiles({ seed: args.seed, train: args.train, heldout: args.heldout, validation: args.validation });
  mkdirSync(args.out, { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(args.out, name);
    writeFileSync(file, content);
    const rows = content === '' ? 0 : content.split('\n').length - 1;
    console.log(`wrote ${file} (${rows} rows)`);
  }
}

main();
