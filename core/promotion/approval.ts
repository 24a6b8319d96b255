/**
 * Sign-off on promotions (`evaluation.gate.requireApproval`): the checks the run workflow's
 * `approvePromotion` update validator applies, and the reasons a sign-off adds to a decision. Pure: it runs
 * inside the workflow (an update validator must not have side effects).
 */
import type { ApprovalRequest, AwaitingApproval } from './registry';

/** Why an approval request is refused (null: accept it). The message says what to do instead. */
export function approvalProblem(req: unknown, pending: AwaitingApproval | null | undefined, workflowId: string): string | null {
  if (typeof req !== 'object' || req === null) return 'the update needs {iteration, approve, by?, reason?}';
  const r = req as Partial<Record<keyof ApprovalRequest, unknown>>;
  if (typeof r.iteration !== 'number' || !Number.isInteger(r.iteration) || r.iteration < 1) {
    return `iteration must be an iteration number >= 1 (got ${JSON.stringify(r.iteration)})`;
  }
  if (typeof r.approve !== 'boolean') return `approve must be true or false (got ${JSON.stringify(r.approve)})`;
  if (r.by !== undefined && (typeof r.by !== 'string' || r.by.trim() === '' || r.by.length > 100)) {
    return 'by must be a non-empty name of at most 100 characters';
  }
  if (r.reason !== undefined && (typeof r.reason !== 'string' || r.reason.length > 2000)) return 'reason must be text of at most 2000 characters';
  if (!pending) {
    return `no promotion of run ${workflowId} is awaiting approval now (it waits only after an iteration the gate would promote; see: judgeloop status ${workflowId})`;
  }
  if (r.iteration !== pending.iteration) {
    return `iteration ${r.iteration} is not awaiting approval; iteration ${pending.iteration} is (judgeloop approve ${workflowId} --iteration ${pending.iteration})`;
  }
  return null;
}

/** The name a decision records for a sign-off sent without --by. */
export const UNNAMED_APPROVER = 'unnamed approver';

/** The reason line a sign-off adds after the gate's reasons. */
export function approvalReason(req: ApprovalRequest): string {
  const who = req.by?.trim() || UNNAMED_APPROVER;
  const why = req.reason?.trim() ? `: ${req.reason.trim()}` : '';
  return `${req.approve ? 'approved' : 'rejected'} by ${who}${why}`;
}

export function timeoutReason(hours: number): string {
  return `approval timed out after ${hours} h (evaluation.gate.approvalTimeoutHours): rejected`;
}
