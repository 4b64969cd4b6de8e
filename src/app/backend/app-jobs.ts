// The page's long jobs by name. Services take an AbortSignal like every client call
// (docs/ARCHITECTURE.md §3.2); a job that outlives the component that started it (a scan started by
// the demo, training left running while the user looks elsewhere) is run under its name here, so the
// Cancel or Pause button of any view reaches it. One registry, the same CancelRegistry the worker
// keeps, instead of an "active job" controller per service.
import { CancelRegistry } from '../../core/runtime/cancel';

export type AppJob = 'calibration' | 'scan' | 'training';

const running = new CancelRegistry();

/** Runs `work` as the app's `job`; cancelAppJob(job) or `signal` (the caller's own) cancels it. */
export function runAppJob<T>(job: AppJob, work: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
  return running.run(job, work, signal);
}

/** Cancels the app's `job` if it runs (a scan or calibration stops; training pauses). */
export function cancelAppJob(job: AppJob): void {
  running.cancel(job);
}

export function isAppJobRunning(job: AppJob): boolean {
  return running.has(job);
}
