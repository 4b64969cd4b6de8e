// Whether an earlier scan can continue, as pure functions of its saved summary (unit-tested; the
// scan service and the Scan step both ask here).
import type { ScanSummary } from './scan-store';

/**
 * A scan continues (keeping its rows and scoring only images without one) when it did not finish,
 * was made with the same decoder, and covers the same folders in the same order: rows of another
 * decoder or folder set would not belong in one table.
 */
export function canContinueScan(previous: ScanSummary | null, decoderSha256: string, targetIds: readonly string[]): previous is ScanSummary {
  return previous !== null && previous.status !== 'done' && previous.decoderSha256 === decoderSha256 &&
    previous.datasets.length === targetIds.length && previous.datasets.every((d, i) => d.id === targetIds[i]);
}

/**
 * Whether the Scan step offers "Resume": an unfinished scan that is not running and has rows. A scan
 * whose every image is scored but whose verdict was cancelled resumes too (only the verdict runs).
 */
export function offersResume(scan: ScanSummary | null): scan is ScanSummary {
  return scan !== null && scan.status !== 'done' && scan.status !== 'scanning' && scan.done > 0;
}
