/**
 * `judgeloop replay`: replays a run's history against the current workflow code, from the server (the run
 * and its iterations) or from files exported with `temporal workflow show --output json`.
 */
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { bundleWorkflows } from '../workers/main';
import { childWorkflowIds, formatReplayOutcomes, readHistoryFile, replayHistories, type RecordedHistory } from '../workers/replay';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, type ReplayCommand } from './args';
import { CliError, connect } from './connection';
import { println, type OutStream } from './follow';
import { firstLine } from '../core/common/errors';

async function fromServer(cmd: ReplayCommand): Promise<RecordedHistory[]> {
  const conn = await connect(cmd.connection);
  try {
    const fetch = async (workflowId: string): Promise<RecordedHistory> => {
      try {
        return { workflowId, history: await conn.client.workflow.getHandle(workflowId).fetchHistory(), source: 'server' };
      } catch (e) {
        throw new CliError(`cannot fetch the history of ${workflowId} from ${conn.options.address} (namespace ${conn.options.namespace}): ${firstLine(e)}`);
      }
    };
    const run = await fetch(cmd.workflowId!);
    const children = cmd.children ? await Promise.all(childWorkflowIds(run.history).map(fetch)) : [];
    return [run, ...children];
  } finally {
    await conn.close();
  }
}

/** The replay worker's state changes are noise here: keep the SDK's own logs to warnings (if not set up yet). */
function quietRuntime(): void {
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // Already installed in this process (tests, or a worker): keep its logger.
  }
}

export async function cmdReplay(cmd: ReplayCommand, io: { out: OutStream; err: OutStream }): Promise<number> {
  let histories: RecordedHistory[];
  if (cmd.files.length > 0) {
    try {
      histories = await Promise.all(cmd.files.map((f) => readHistoryFile(f, cmd.files.length === 1 ? cmd.historyWorkflowId : undefined)));
    } catch (e) {
      println(io.err, (e as Error).message);
      return EXIT_USAGE;
    }
  } else {
    histories = await fromServer(cmd);
  }
  quietRuntime();
  println(io.err, `replaying ${histories.length} histor${histories.length === 1 ? 'y' : 'ies'} against the current workflow code…`);
  const outcomes = await replayHistories(histories, await bundleWorkflows());
  println(io.out, cmd.json ? JSON.stringify(outcomes, null, 2) : formatReplayOutcomes(outcomes));
  return outcomes.every((o) => o.deterministic) ? EXIT_OK : EXIT_FAILED;
}
