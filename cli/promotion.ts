/**
 * `judgeloop approve` (sends the run workflow's `approvePromotion` update) and `judgeloop registry` (reads a
 * judge's registry from S3). The text comes from cli/format-promotion.ts.
 */
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { APPROVE_PROMOTION_UPDATE, lineage, type ApprovalOutcome, type ApprovalRequest } from '../core/promotion/registry';
import type { RunConfig } from '../core/config/config';
import { readRegistry } from '../activities/steps/registry';
import { DEFAULT_ADDRESS, EXIT_FAILED, EXIT_OK, EXIT_USAGE, type Command } from './args';
import type { CliIO } from './commands';
import { ConfigFileError, loadConfigFile } from './config-file';
import { CliError, connect } from './connection';
import { isNotFound, notFoundMessage, println } from './follow';
import { formatApprovalOutcome, formatRegistry } from './format-promotion';
import { cliObjectStore } from './storage';
import { firstLine } from '../core/common/errors';


/** The innermost message of an update failure: the validator's or the handler's own words. */
function rootMessage(e: unknown): string {
  let cur: unknown = e;
  while (cur instanceof Error && cur.cause instanceof Error) cur = cur.cause;
  return cur instanceof Error ? cur.message : String(cur);
}

export async function cmdApprove(cmd: Extract<Command, { command: 'approve' }>, io: CliIO): Promise<number> {
  const conn = await connect(cmd.connection);
  try {
    const request: ApprovalRequest = {
      iteration: cmd.iteration,
      approve: cmd.approve,
      by: cmd.by,
      ...(cmd.reason !== undefined ? { reason: cmd.reason } : {}),
    };
    const outcome = await conn.client.workflow
      .getHandle(cmd.workflowId)
      .executeUpdate<ApprovalOutcome, [ApprovalRequest]>(APPROVE_PROMOTION_UPDATE, { args: [request] });
    println(io.out, formatApprovalOutcome(outcome));
    return EXIT_OK;
  } catch (e) {
    if (isNotFound(e)) throw new CliError(`${notFoundMessage(conn, cmd.workflowId)} (or it has finished: only a running run can be approved)`);
    if (e instanceof WorkflowUpdateFailedError) {
      println(io.err, `not ${cmd.approve ? 'approved' : 'rejected'}: ${rootMessage(e)}`);
      return EXIT_FAILED;
    }
    throw e;
  } finally {
    await conn.close();
  }
}

export async function cmdRegistry(cmd: Extract<Command, { command: 'registry' }>, io: CliIO): Promise<number> {
  let config: RunConfig;
  try {
    config = (await loadConfigFile(cmd.configPath)).config;
  } catch (e) {
    if (!(e instanceof ConfigFileError)) throw e;
    println(io.err, e.message);
    return EXIT_USAGE;
  }
  const env = io.env ?? process.env;
  // The endpoint and credentials as for every CLI command that reads S3 (cli/storage.ts); the Temporal
  // address only tells whether the embedded stack (and its S3 server) is on this machine.
  const store = cliObjectStore(config, env.TEMPORAL_ADDRESS?.trim() || DEFAULT_ADDRESS, env);
  try {
    const contents = await readRegistry(store, config.storage, cmd.judgeName);
    if (cmd.json) {
      const chain = contents.champion ? lineage(contents.champion, contents.history) : null;
      println(io.out, JSON.stringify({ judgeName: cmd.judgeName, ...contents, lineage: chain }, null, 2));
    } else {
      println(io.out, formatRegistry(cmd.judgeName, contents.prefixUri, contents.champion, contents.history));
    }
    return EXIT_OK;
  } catch (e) {
    const msg = firstLine(e);
    throw new CliError(
      `could not read the registry of ${cmd.judgeName} from s3://${config.storage.bucket}/${config.storage.prefix} ` +
        `(endpoint ${config.storage.endpoint ?? env.JUDGELOOP_S3_ENDPOINT ?? 'the default'}): ${msg}. ` +
        'Check storage.* in the config, JUDGELOOP_S3_ENDPOINT and the AWS credentials in the environment.',
    );
  } finally {
    store.client.destroy();
  }
}
