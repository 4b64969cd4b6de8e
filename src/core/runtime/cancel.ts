// Cancellation is a type, not a message: work that stops because its AbortSignal fired throws
// CancelledError, and callers tell it from a failure with isCancelled(). Comlink carries an
// Error's `name` and `message` across the worker boundary (not its class), so the client side
// recognises the name; nothing matches message text.

export const CANCELLED_ERROR_NAME = 'CancelledError';

export class CancelledError extends Error {
  override readonly name = CANCELLED_ERROR_NAME;
  constructor(message = 'Cancelled by the user.') {
    super(message);
  }
}

/** Whether `err` is a cancellation: a CancelledError, here or rebuilt by Comlink from another context. */
export function isCancelled(err: unknown): boolean {
  return err instanceof CancelledError || (err instanceof Error && err.name === CANCELLED_ERROR_NAME);
}

/** Throws a CancelledError when `signal` has fired (the reason it was given, when that is one). */
export function throwIfCancelled(signal: AbortSignal | undefined, message?: string): void {
  if (!signal?.aborted) return;
  throw signal.reason instanceof CancelledError ? signal.reason : new CancelledError(message);
}

/**
 * Cancellable jobs by id: what a worker keeps so that a `cancel(jobId)` message reaches the job it
 * names. A job's signal is registered before its first await, so a cancel sent after the call (an
 * ordered channel delivers it after) always finds it; a cancel for a finished or unknown job is a no-op.
 */
export class CancelRegistry {
  private readonly jobs = new Map<string, AbortController>();

  /** Runs `work` as job `jobId`; `outer`, when given, cancels it too (a caller's own signal). */
  async run<T>(jobId: string, work: (signal: AbortSignal) => Promise<T>, outer?: AbortSignal): Promise<T> {
    throwIfCancelled(outer);
    const controller = new AbortController();
    const forward = () => controller.abort(new CancelledError());
    outer?.addEventListener('abort', forward, { once: true });
    this.jobs.set(jobId, controller);
    try {
      return await work(controller.signal);
    } finally {
      outer?.removeEventListener('abort', forward);
      if (this.jobs.get(jobId) === controller) this.jobs.delete(jobId);
    }
  }

  /** Whether job `jobId` is running. */
  has(jobId: string): boolean {
    return this.jobs.has(jobId);
  }

  cancel(jobId: string): void {
    this.jobs.get(jobId)?.abort(new CancelledError());
  }

  /** Jobs running now (for tests and debugging). */
  get size(): number {
    return this.jobs.size;
  }
}
