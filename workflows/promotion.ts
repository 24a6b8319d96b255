/**
 * Promotion inside the run workflow: the gate's decision (core/promotion/gate.ts, pure), the optional sign-off through
 * the `approvePromotion` update, and the registry entries the decisions become. Deterministic: time comes
 * from the workflow clock, waits are `condition`s, and S3 is reached only through the registry activities.
 */
import { ApplicationFailure, condition, defineUpdate, setHandler } from '@temporalio/workflow';
import { markRun } from './search-attributes';
import type { RunConfig } from '../core/config/config';
import { decidePromotion } from '../core/promotion/gate';
import { gatedSuiteNames } from '../core/promotion/gate-config';
import { UNNAMED_APPROVER, approvalProblem, approvalReason, timeoutReason } from '../core/promotion/approval';
import {
  APPROVE_PROMOTION_UPDATE,
  type ApprovalOutcome,
  type ApprovalRequest,
  type ChampionRef,
  type DecidedBy,
} from '../core/promotion/registry';
import type { IterationSummary, RunProgress, SuiteMetrics } from '../core/run/run-types';
import type { ProposedEntry } from '../activities/steps/registry';

export const approvePromotionUpdate = defineUpdate<ApprovalOutcome, [ApprovalRequest]>(APPROVE_PROMOTION_UPDATE);

/** The run's champion: the judge the next iteration starts from, with its evaluation in this run. */
export interface RunChampion {
  ref: ChampionRef;
  /** Its metrics in this run (iteration 0 evaluated the starting judge on the run's own suites). */
  eval: Record<string, SuiteMetrics>;
  /** The root of its lineage. */
  seedModelUri: string;
}

export interface Decision {
  promote: boolean;
  reasons: string[];
  decidedBy: DecidedBy;
}

/**
 * The sign-off desk: registers the update handler at the start of the run (so that an early or wrong
 * request is refused with a clear message rather than left unhandled) and hands requests to the loop.
 */
export class ApprovalDesk {
  private request: ApprovalRequest | undefined;
  private readonly outcomes = new Map<number, ApprovalOutcome>();

  constructor(
    private readonly progress: RunProgress,
    workflowId: string,
  ) {
    setHandler(
      approvePromotionUpdate,
      async (req) => {
        // Two requests accepted in the same workflow task: the first one decides.
        if (this.request !== undefined) {
          throw ApplicationFailure.create({ message: `iteration ${req.iteration} was already ${this.request.approve ? 'approved' : 'rejected'}`, nonRetryable: true });
        }
        this.request = req;
        await condition(() => this.outcomes.has(req.iteration));
        return this.outcomes.get(req.iteration)!;
      },
      {
        validator: (req) => {
          const problem = approvalProblem(req, this.progress.awaitingApproval, workflowId);
          if (problem) throw new Error(problem);
        },
      },
    );
  }

  /** Shows the wait in the progress query and waits for a request, or the timeout; undefined when it timed out. */
  async wait(iteration: number, reasons: string[], timeoutHours: number | undefined): Promise<ApprovalRequest | undefined> {
    this.request = undefined;
    const ms = timeoutHours === undefined ? undefined : Math.round(timeoutHours * 3_600_000);
    this.progress.awaitingApproval = {
      iteration,
      reasons,
      ...(ms === undefined ? {} : { deadline: new Date(Date.now() + ms).toISOString() }),
    };
    markRun({ status: 'awaiting-approval' });
    try {
      if (ms === undefined) await condition(() => this.request !== undefined);
      else await condition(() => this.request !== undefined, ms);
      return this.request;
    } finally {
      this.progress.awaitingApproval = null;
      markRun({ status: 'running' });
    }
  }

  /** Answers the update that decided `iteration`, once the decision is recorded. */
  resolve(outcome: ApprovalOutcome): void {
    this.outcomes.set(outcome.iteration, outcome);
    this.request = undefined;
  }
}

/** The gate's decision for an iteration, then the sign-off when the config asks for one. */
export async function decideIteration(
  config: RunConfig,
  champion: RunChampion,
  it: IterationSummary,
  desk: ApprovalDesk,
): Promise<Decision> {
  const gate = config.evaluation.gate;
  const decision = decidePromotion(champion.eval, it.eval, { ...gate, suites: gatedSuiteNames(config) });
  // A person signs off on promotions the gate allows; a failed gate is final (change the rules to retry).
  if (!decision.promote || !gate.requireApproval) return { promote: decision.promote, reasons: decision.reasons, decidedBy: 'gate' };
  const req = await desk.wait(it.iteration, decision.reasons, gate.approvalTimeoutHours);
  if (!req) return { promote: false, reasons: [...decision.reasons, timeoutReason(gate.approvalTimeoutHours!)], decidedBy: 'approval-timeout' };
  return { promote: req.approve, reasons: [...decision.reasons, approvalReason(req)], decidedBy: req.by?.trim() || UNNAMED_APPROVER };
}

/** The registry entry for an iteration's decision (the activity adds the time and the data's hash). */
export function proposedEntry(
  config: RunConfig,
  run: { runId: string; trainUri: string; configHash: string },
  it: IterationSummary,
  parent: RunChampion | null,
  decision: Decision,
): ProposedEntry {
  return {
    judgeName: config.judge.name,
    modelUri: it.modelUri,
    runId: run.runId,
    iteration: it.iteration,
    parentModelUri: parent ? parent.ref.modelUri : null,
    seedModelUri: parent ? parent.seedModelUri : it.modelUri,
    data: { trainUri: run.trainUri, configHash: run.configHash, ...(it.pairs ? { pairsUri: it.pairs.uri } : {}) },
    metrics: it.eval,
    decision: { promoted: decision.promote, reasons: decision.reasons, decidedBy: decision.decidedBy },
  };
}
