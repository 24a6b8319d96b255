/**
 * `judgeloop track RUN_ID [--tracking-uri URL] [--config FILE]`: sends a run's records to the experiment
 * tracker again — after the tracker was down during the run, to another tracking server, or for a run started
 * without tracking. The records come from S3 (the run's config.json and iteration summaries), as the run's own
 * sends do (activities/tracking/send-records.ts), so sending twice adds nothing. A run that has ended gets
 * its MLflow run marked with its Temporal status; a running one is sent as far as it got.
 */
import { validateConfig, type RunConfig } from '../core/config/config';
import { runPrefixUri } from '../core/run/artifacts';
import { sendRunRecords, type TrackingStatus } from '../activities/tracking/send-records';
import type { RunStatus } from '../activities/tracking/mlflow-client';
import { EXIT_FAILED, EXIT_OK, type ConnectionOptions } from './args';
import type { CliIO } from './commands';
import { CliError, connect } from './connection';
import { describeRun, println, recordedConfig } from './follow';
import { optionalConfigFile } from './config-file';
import { cliObjectStore } from './storage';

export interface TrackOptions {
  workflowId: string;
  /** Send to this MLflow server instead of the run's (tracking.mlflow.trackingUri, else MLFLOW_TRACKING_URI). */
  trackingUri?: string;
  /** Storage and tracking settings from this config instead of the run's recorded one. */
  configPath?: string;
  connection: ConnectionOptions;
}

/** The MLflow status of a run in this Temporal status; null while it runs. */
export function mlflowStatusOf(temporalStatus: string): Exclude<RunStatus, 'RUNNING'> | null {
  switch (temporalStatus) {
    case 'RUNNING':
    case 'CONTINUED_AS_NEW':
      return null;
    case 'COMPLETED':
      return 'FINISHED';
    case 'CANCELLED':
    case 'TERMINATED':
      return 'KILLED';
    default:
      return 'FAILED';
  }
}

/** The run's tracking settings with --tracking-uri applied (a run that never tracked gets the defaults). */
export function trackingWith(config: RunConfig, trackingUri: string | undefined): Pick<RunConfig, 'tracking'> {
  if (!trackingUri) return { tracking: config.tracking };
  const checked = validateConfig({ ...config, tracking: { mlflow: { ...config.tracking?.mlflow, trackingUri } } });
  if (!checked.ok) throw new CliError(`--tracking-uri ${trackingUri}: ${checked.problems.map((p) => p.message).join('; ')}`);
  return { tracking: checked.config.tracking };
}

export function formatTrackingStatus(workflowId: string, status: TrackingStatus): string[] {
  const lines: string[] = [];
  if (status.tracked.length) {
    lines.push(`run ${workflowId}: iterations ${status.tracked.join(', ')} are in MLflow experiment "${status.experiment}" at ${status.trackingUri}`);
  }
  if (status.runUrl) lines.push(`  ${status.runUrl}${status.ended ? ` (${status.ended})` : ''}`);
  for (const u of status.untracked) lines.push(`iteration ${u.iteration} is not tracked: ${u.reason}`);
  if (!status.tracked.length && !status.untracked.length) lines.push(`run ${workflowId}: no iteration has ended yet; nothing to send`);
  return lines;
}

export async function cmdTrack(cmd: TrackOptions, io: CliIO): Promise<number> {
  const env = io.env ?? process.env;
  const conn = await connect(cmd.connection, 5000, env);
  let status: TrackingStatus;
  try {
    const desc = await describeRun(conn, cmd.workflowId);
    const config = (await optionalConfigFile(cmd.configPath)) ?? (await recordedConfig(conn, cmd.workflowId));
    const ended = mlflowStatusOf(desc.status.name);
    const store = cliObjectStore(config, cmd.connection.address, env);
    try {
      status = await sendRunRecords({
        store,
        runPrefixUri: runPrefixUri(config.storage, cmd.workflowId),
        tracking: trackingWith(config, cmd.trackingUri),
        startedAt: desc.startTime.getTime(),
        ...(ended ? { end: { status: ended, at: (desc.closeTime ?? new Date()).getTime() } } : {}),
        env,
      });
    } catch (e) {
      throw new CliError(`could not read run ${cmd.workflowId}'s records from S3: ${(e as Error).message}\ncheck that its bucket is reachable from here, or pass its config with --config FILE`);
    } finally {
      store.client.destroy();
    }
  } finally {
    await conn.close();
  }
  for (const line of formatTrackingStatus(cmd.workflowId, status)) println(status.untracked.length ? io.err : io.out, line);
  if (status.untracked.length) {
    println(io.err, `fix the tracker (or pass --tracking-uri URL), then run again: judgeloop track ${cmd.workflowId}`);
    return EXIT_FAILED;
  }
  return EXIT_OK;
}
