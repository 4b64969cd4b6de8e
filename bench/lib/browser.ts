// What the Chromium benches share: the production build served by `vite preview` on a private port,
// Debian's Chromium with the e2e flags, and the page's JS heap read through CDP.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { chromium, type Browser, type CDPSession, type Page } from '@playwright/test';
import { chromiumArgs } from '../../playwright.config';

export const MB = 1024 * 1024;

/**
 * Serves the production build (run `npx vite build` first; BENCH_DIST names another build folder,
 * e.g. a copy kept to measure a before/after), or `outDir`, with the app's preview headers (COOP/COEP,
 * CSP), and resolves once it answers.
 */
export async function startPreview(port: number, outDir = process.env['BENCH_DIST']): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join('node_modules', 'vite', 'bin', 'vite.js'), 'preview', '--host', '127.0.0.1', '--port', String(port), '--strictPort', ...(outDir ? ['--outDir', outDir] : [])], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}/`;
  for (let i = 0; i < 600; i++) {
    try {
      if ((await fetch(url)).ok) return child;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill();
  throw new Error(`vite preview did not answer on ${url}; run \`npx vite build\` first (or free port ${port}: BENCH_PORT=… picks another).`);
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium', args: chromiumArgs });
}

/** The page's main-thread JS heap through CDP (workers have their own heaps, not counted here). */
export class HeapProbe {
  private constructor(private readonly cdp: CDPSession) {}

  static async attach(page: Page): Promise<HeapProbe> {
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Performance.enable');
    return new HeapProbe(cdp);
  }

  /** JSHeapUsedSize from Performance.getMetrics, bytes. */
  async heap(): Promise<number> {
    const { metrics } = await this.cdp.send('Performance.getMetrics');
    return metrics.find((m) => m.name === 'JSHeapUsedSize')?.value ?? NaN;
  }

  /** ArrayBuffer backing stores (where pixels live) are outside JSHeapUsedSize; bytes, NaN if unknown. */
  async buffers(): Promise<number> {
    const usage = (await this.cdp.send('Runtime.getHeapUsage')) as { backingStorageSize?: number };
    return usage.backingStorageSize ?? NaN;
  }

  /** Heap and backing stores right after a forced GC: what the page retains. */
  async afterGc(): Promise<{ heap: number; buffers: number }> {
    await this.cdp.send('HeapProfiler.collectGarbage');
    return { heap: await this.heap(), buffers: await this.buffers() };
  }

  /**
   * Samples the heap every `everyMs` in the background until the returned stop() is called, which
   * resolves to the peak seen (bytes). Transient peaks shorter than the interval can be missed.
   */
  sampleWhile(everyMs = 200): () => Promise<{ peakHeap: number; peakBuffers: number; samples: number }> {
    let running = true;
    let peakHeap = 0;
    let peakBuffers = 0;
    let samples = 0;
    const loop = (async () => {
      while (running) {
        try {
          peakHeap = Math.max(peakHeap, await this.heap());
          const b = await this.buffers();
          if (Number.isFinite(b)) peakBuffers = Math.max(peakBuffers, b);
          samples++;
        } catch {
          if (running) throw new Error('lost the CDP session while sampling the heap');
        }
        await new Promise((r) => setTimeout(r, everyMs));
      }
    })();
    return async () => {
      running = false;
      await loop;
      return { peakHeap, peakBuffers, samples };
    };
  }
}
