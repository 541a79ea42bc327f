/**
 * An error caused by what the user gave us (a file, a flag, a checkpoint).
 * Front ends show its message as one line (CLI: exit 2; extension: an error notification)
 * and never a stack trace.
 */
export class UserError extends Error {
  override readonly name = 'UserError';
  constructor(message: string) {
    super(message);
  }
}

export function isUserError(e: unknown): e is UserError {
  return e instanceof Error && e.name === 'UserError';
}
