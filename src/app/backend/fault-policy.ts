// What the page does when its model worker goes quiet or fails, as pure functions of what it knows
// (unit-tested; model-client.ts and backend-service.ts act on the answers). docs/ARCHITECTURE.md §3.3.
import { isDeviceLost } from '../../core/runtime/device-loss';
import type { BackendEvent } from '../../../workers/model-api';

/** What the client learns about its worker: the worker's own events, and its death. */
export type BackendSignal = BackendEvent | { readonly kind: 'worker-crashed'; readonly message: string };

export const WORKER_CRASHED_ERROR = 'WorkerCrashedError';
export const BACKEND_REPLACED_ERROR = 'BackendReplacedError';

/** A call whose worker died or was replaced while it ran: the job may be run again on the new one. */
export function isInterruptedByBackend(err: unknown): boolean {
  return err instanceof Error && (err.name === WORKER_CRASHED_ERROR || err.name === BACKEND_REPLACED_ERROR);
}

/** Whether a failed job runs once more on the replacement backend (cancellations and real errors do not). */
export function retriesOnNewBackend(err: unknown): boolean {
  return isDeviceLost(err) || isInterruptedByBackend(err);
}

/**
 * Liveness by pings: the worker answers `ping` between its jobs' steps; one that has not answered
 * for `timeoutMs` counts as dead. `tick` runs every few seconds and says whether to ping again.
 */
export class Heartbeat {
  private lastAnswer: number;

  constructor(now: number, private readonly timeoutMs: number) {
    this.lastAnswer = now;
  }

  answered(now: number): void {
    this.lastAnswer = Math.max(this.lastAnswer, now);
  }

  tick(now: number): 'ping' | 'dead' {
    return now - this.lastAnswer > this.timeoutMs ? 'dead' : 'ping';
  }

  /** Seconds without an answer at `now` (for the crash message). */
  silentFor(now: number): number {
    return (now - this.lastAnswer) / 1000;
  }
}

export type FaultResponse =
  /** The GPU is gone: this page stays on WASM, in a fresh worker. */
  | { readonly kind: 'wasm'; readonly gpuLostReason: string; readonly notice: string }
  /** A first crash: start a fresh worker; interrupted jobs resume from what they saved. */
  | { readonly kind: 'restart'; readonly notice: string }
  /** A worker that keeps dying would loop: stop and offer a reload. */
  | { readonly kind: 'stop'; readonly message: string };

/** The response to a backend signal, given how many crashes this page has seen before it. */
export function respondToFault(signal: BackendSignal, crashesBefore: number): FaultResponse {
  if (signal.kind === 'device-lost') {
    return {
      kind: 'wasm',
      gpuLostReason: `The GPU device was lost (${signal.message}).`,
      notice: `GPU device lost (${signal.message}): continuing on WASM (CPU).`,
    };
  }
  if (crashesBefore === 0) return { kind: 'restart', notice: `${signal.message}; restarted.` };
  return { kind: 'stop', message: `${signal.message} again, so it was not restarted. Reload the page: saved datasets, checkpoints and results are kept.` };
}
