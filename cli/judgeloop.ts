/**
 * `judgeloop`: validate configs, start self-rationalization runs on Temporal, follow them, print results.
 *
 *   npx tsx cli/judgeloop.ts <command> [flags]      (or: npm run judgeloop -- <command> [flags])
 *
 * Exit codes: 0 success · 1 the run failed / Temporal unreachable · 2 usage error or invalid config ·
 * 130 stopped following with Ctrl-C (the run itself continues).
 */
import { EXIT_USAGE, UsageError, parseCommandLine, usageLine, type Command } from './args';
import { EXIT_FAILED, EXIT_INTERRUPTED, runCommand, type CliIO } from './commands';
import { CliError } from './connection';

/** Runs the CLI in-process and returns the exit code (nothing here calls process.exit). */
export async function main(argv: string[], io: CliIO): Promise<number> {
  let cmd: Command;
  try {
    cmd = parseCommandLine(argv, io.env ?? process.env);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.err.write(`error: ${e.message}\n`);
    io.err.write(`usage: ${usageLine(e.topic)}\n`);
    io.err.write(`(judgeloop help${e.topic && e.topic !== 'help' ? ` ${e.topic}` : ''} for more)\n`);
    return EXIT_USAGE;
  }
  try {
    return await runCommand(cmd, io);
  } catch (e) {
    if (e instanceof CliError) {
      io.err.write(`${e.message}\n`);
      return e.exitCode;
    }
    const debug = (io.env ?? process.env).JUDGELOOP_DEBUG;
    io.err.write(`error: ${e instanceof Error ? (debug ? e.stack : e.message) : String(e)}\n`);
    if (!debug) io.err.write('(set JUDGELOOP_DEBUG=1 for a stack trace)\n');
    return EXIT_FAILED;
  }
}

function flush(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => stream.write('', () => resolve()));
}

async function cli(): Promise<void> {
  const argv = process.argv.slice(2);
  const controller = new AbortController();
  // Ctrl-C while following stops following (the run continues), and stops the codec server cleanly; the
  // stack command handles its own signals.
  const following = argv[0] === 'run' || argv[0] === 'follow' || argv[0] === 'seeds' || argv[0] === 'codec-server';
  if (following) {
    process.on('SIGINT', () => {
      if (controller.signal.aborted) process.exit(EXIT_INTERRUPTED); // a second Ctrl-C: leave now
      controller.abort();
    });
  }
  const rc = await main(argv, { out: process.stdout, err: process.stderr, signal: controller.signal, env: process.env });
  await Promise.all([flush(process.stdout), flush(process.stderr)]);
  process.exit(rc);
}

if (require.main === module) {
  void cli();
}
