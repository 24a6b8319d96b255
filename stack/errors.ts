/**
 * Errors the local stack reports to a person: a message and what to do next, never a stack trace.
 */

export class StackError extends Error {
  constructor(
    message: string,
    /** What to do about it (one or two sentences), printed under the message. */
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'StackError';
  }

  /** The message plus the hint, as printed by `judgeloop stack`. */
  describe(): string {
    return this.hint ? `${this.message}\n  ${this.hint.replace(/\n/g, '\n  ')}` : this.message;
  }
}

/** A port the stack needs is taken by something that is not a reusable server of the right kind. */
export class PortInUseError extends StackError {
  constructor(
    readonly port: number,
    /** The service that wanted the port, e.g. "Temporal dev server (gRPC frontend)". */
    readonly service: string,
    /** The flag or option that changes the port, e.g. "--temporal-port". */
    readonly flag: string | undefined,
    readonly host = '127.0.0.1',
    /** What answers on the port, when known. */
    readonly detail?: string,
  ) {
    super(
      `port ${port} on ${host} is already in use, so the ${service} cannot start there` + (detail ? ` (${detail})` : ''),
      (flag ? `Choose another port with ${flag} <port>, or stop` : 'Stop') +
        ` whatever listens on ${port} (find it with: ss -ltnp 'sport = :${port}').`,
    );
    this.name = 'PortInUseError';
  }
}

export function describeError(err: unknown): string {
  if (err instanceof StackError) return err.describe();
  if (err instanceof Error) return err.message;
  return String(err);
}
