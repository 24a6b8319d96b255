/**
 * The first line of what was thrown: an Error's message, anything else as a string. For one-line reports
 * (a CLI error, a note, a reason in a list): SDK errors often carry a stack or a response body after it.
 */
export function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0];
}
