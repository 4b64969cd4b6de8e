// A pool of image decode workers: N = min(4, cores − 1), at least 1. Batches go to the least busy
// worker; results (and their pixel buffers) come back as transferables.
import * as Comlink from 'comlink';
import type { DecodeOptions, DecodeRequest, DecodeResult, ImageWorkerApi } from '../../../workers/image-api';

interface PoolWorker {
  readonly worker: Worker;
  readonly api: Comlink.Remote<ImageWorkerApi>;
  busy: number;
}

export function poolSize(hardwareConcurrency = navigator.hardwareConcurrency || 2): number {
  return Math.max(1, Math.min(4, hardwareConcurrency - 1));
}

export class ImagePool {
  private readonly workers: PoolWorker[] = [];

  constructor(readonly size = poolSize()) {}

  private spawn(i: number): PoolWorker {
    const worker = new Worker(new URL('../../../workers/image.worker.ts', import.meta.url), { type: 'module', name: `dede-images-${i + 1}` });
    return { worker, api: Comlink.wrap<ImageWorkerApi>(worker), busy: 0 };
  }

  private pick(): PoolWorker {
    if (this.workers.length < this.size) {
      const idle = this.workers.find((w) => w.busy === 0);
      if (idle) return idle;
      const w = this.spawn(this.workers.length);
      this.workers.push(w);
      return w;
    }
    return this.workers.reduce((a, b) => (b.busy < a.busy ? b : a));
  }

  /** Decodes one batch on the least busy worker. Files are passed by reference, not read here. */
  async decode(requests: readonly DecodeRequest[], options: DecodeOptions): Promise<DecodeResult[]> {
    const w = this.pick();
    w.busy++;
    try {
      return await w.api.decodeBatch(requests, options);
    } finally {
      w.busy--;
    }
  }

  /** How many batches may be in flight to keep every worker fed. */
  get window(): number {
    return this.size * 2;
  }

  terminate(): void {
    for (const w of this.workers.splice(0)) {
      w.api[Comlink.releaseProxy]();
      w.worker.terminate();
    }
  }
}

let shared: ImagePool | null = null;

export function sharedPool(): ImagePool {
  shared ??= new ImagePool();
  return shared;
}
