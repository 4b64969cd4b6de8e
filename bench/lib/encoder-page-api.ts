// The contract between bench:encoders (Node, through page.evaluate) and its bench page
// (bench/encoders-page): types only, so that Node code never imports the page's Vite-only modules.
import type { ExecutionProvider } from '../../src/core/runtime/ep-choice';
import type { EncoderTiming, TimingPlan } from './embed-timing';
import type { OpTimes } from './op-profile';

export interface BrowserTiming extends EncoderTiming {
  /** ORT's thread count after the session started (it drops to 1 without cross-origin isolation). */
  readonly threads: number;
  readonly crossOriginIsolated: boolean;
  readonly ortVersion: string;
}

export interface PageFacts {
  readonly crossOriginIsolated: boolean;
  readonly hardwareConcurrency: number;
  readonly userAgent: string;
  /** Null when there is no adapter (`adapterError` says why). */
  readonly adapter: { readonly description: string; readonly vendor: string; readonly architecture: string; readonly isFallbackAdapter: boolean } | null;
  readonly adapterError?: string;
}

/** What the page puts on `globalThis.encoderBench`. */
export interface EncoderBenchPage {
  facts(): Promise<PageFacts>;
  /**
   * Times one model in a fresh worker (ORT's WASM memory only grows), then ends the worker.
   * `allowSpinning: false` turns ORT's spin-waiting threads off (the app leaves it on).
   */
  time(modelUrl: string, ep: ExecutionProvider, threads: number, plan: TimingPlan, allowSpinning?: boolean): Promise<BrowserTiming>;
  /** Per-op-type milliseconds per run from ORT's profiler, in a fresh worker. */
  profile(modelUrl: string, ep: ExecutionProvider, threads: number, batch: number): Promise<OpTimes>;
}
