import { describe, expect, it } from 'vitest';
import { SyntheticWorld } from './__fixtures__/synthetic-set';
import { calibratedCollapse, calibratedCollapseAt, collapseScores, collapseScoresAgainst, pixelFingerprint, pixelFingerprints, type EmbeddingSet, type Rows } from './collapse';
import { auroc } from './metrics';
import { mulberry32, normal, normals } from './rng';

const world = new SyntheticWorld(1);

function cosine(a: Float32Array, i: number, b: Float32Array, j: number, d: number): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let t = 0; t < d; t++) {
    const x = a[i * d + t] as number;
    const y = b[j * d + t] as number;
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
}

/** O(n·m) reference: every similarity, sorted, duplicates dropped. */
function bruteForce(query: EmbeddingSet, pool: EmbeddingSet, k: number, within: boolean, dupCos = 0.95): number[] {
  const d = query.embeddings.dim;
  const n = query.embeddings.data.length / d;
  const m = pool.embeddings.data.length / d;
  return Array.from({ length: n }, (_, i) => {
    const sims: number[] = [];
    for (let j = 0; j < m; j++) {
      if (within && i === j) continue;
      if (query.fingerprints && pool.fingerprints) {
        const f = query.fingerprints.dim;
        if (cosine(query.fingerprints.data, i, pool.fingerprints.data, j, f) >= dupCos) continue;
      }
      sims.push(cosine(query.embeddings.data, i, pool.embeddings.data, j, d));
    }
    const top = sims.sort((a, b) => b - a).slice(0, k);
    return top.length ? top.reduce((a, s) => a + s, 0) / top.length : -1;
  });
}

function fractionAtMost(p: ArrayLike<number>, alpha: number, keep: (i: number) => boolean = () => true): number {
  let hits = 0;
  let total = 0;
  for (let i = 0; i < p.length; i++) {
    if (!keep(i)) continue;
    total++;
    if ((p[i] as number) <= alpha) hits++;
  }
  return hits / total;
}

describe('collapseScores (blocked top-k)', () => {
  it('equals the brute-force kNN mean for any block size, within a folder and against a pool', () => {
    const folder = world.folder({ n: 61, triggered: 7, duplicates: 4, seed: 3 });
    const ref = world.clean(23, 4);
    const noPrints = { embeddings: folder.embeddings };
    for (const blockSize of [1, 3, 8, 256]) {
      for (const k of [1, 5]) {
        const want = bruteForce(noPrints, noPrints, k, true);
        expect(Array.from(collapseScores(noPrints, { k, blockSize }))).toEqual(want.map((v) => expect.closeTo(v, 5)));
        const wantDedup = bruteForce(folder, folder, k, true);
        expect(Array.from(collapseScores(folder, { k, blockSize }))).toEqual(wantDedup.map((v) => expect.closeTo(v, 5)));
        const wantAgainst = bruteForce(ref, folder, k, false);
        expect(Array.from(collapseScoresAgainst(ref, folder, { k, blockSize }))).toEqual(wantAgainst.map((v) => expect.closeTo(v, 5)));
      }
    }
  });

  it('averages fewer neighbours when the folder is smaller than k + 1, and gives −1 to a lone image', () => {
    const emb: Rows = { data: Float32Array.from([1, 0, 1, 1, 0, 1]), dim: 2 };
    const s = collapseScores({ embeddings: emb }, { k: 5 });
    expect(s[0]).toBeCloseTo((Math.SQRT1_2 + 0) / 2, 6);
    expect(s[1]).toBeCloseTo(Math.SQRT1_2, 6);
    expect(Array.from(collapseScores({ embeddings: { data: Float32Array.from([1, 2]), dim: 2 } }))).toEqual([-1]);
  });

  it('separates a planted tight cluster from spread-out clean images (AUROC ≈ 1)', () => {
    for (const triggered of [20, 100, 400]) {
      const f = world.folder({ n: 2000, triggered, seed: 10 + triggered });
      expect(auroc(collapseScores(f), f.labels)).toBeGreaterThan(0.995);
    }
    // Control: a clean encoder does not collapse the triggered images.
    const control = world.folder({ n: 2000, triggered: 340, seed: 11, encoder: 'clean' });
    expect(auroc(collapseScores(control), control.labels)).toBeLessThan(0.7);
  });

  it('rejects malformed input', () => {
    const e = { embeddings: { data: new Float32Array(10), dim: 3 } };
    expect(() => collapseScores(e)).toThrow(/multiple of dim 3/);
    expect(() => collapseScores({ embeddings: { data: new Float32Array(9), dim: 3 } }, { k: 0 })).toThrow(/k must be/);
    const folder = world.folder({ n: 10, seed: 1 });
    expect(() => calibratedCollapse(folder, { embeddings: world.clean(10, 2).embeddings })).toThrow(/fingerprints/);
  });

  it('scores several neighbour counts from one pass exactly as separate runs would', () => {
    const f = world.folder({ n: 300, triggered: 12, duplicates: 20, seed: 12 });
    const ref = world.clean(200, 13);
    const [k3, k5] = calibratedCollapseAt(f, ref, { blockSize: 64 }, [3, 5]);
    for (const [k, got] of [[3, k3], [5, k5]] as const) {
      const want = calibratedCollapse(f, ref, { k, blockSize: 64 });
      expect(Array.from(got!.scores)).toEqual(Array.from(want.scores));
      expect(got!.cleanScores).toEqual(want.cleanScores);
      expect(Array.from(got!.pValues)).toEqual(Array.from(want.pValues));
    }
    expect(() => calibratedCollapseAt(f, ref, {}, [])).toThrow(/no neighbour count/);
    expect(() => calibratedCollapseAt(f, ref, {}, [3, 0])).toThrow(/k must be/);
  });
});

describe('near-duplicates', () => {
  it('do not inflate the scores of duplicated clean images when fingerprints are given', () => {
    const f = world.folder({ n: 1000, duplicates: 60, seed: 21 });
    const ref = world.clean(1000, 22);
    // The salted pairs: images whose embedding has a cosine ≥ 0.999 partner.
    const withoutPrints = collapseScores({ embeddings: f.embeddings });
    const withPrints = collapseScores(f);
    const dupIdx = bruteForce({ embeddings: f.embeddings }, { embeddings: f.embeddings }, 1, true)
      .map((s, i) => [s, i] as const)
      .filter(([s]) => s > 0.999)
      .map(([, i]) => i);
    expect(dupIdx.length).toBe(120);
    const mean = (s: Float64Array, idx: readonly number[]): number => idx.reduce((a, i) => a + (s[i] as number), 0) / idx.length;
    const others = Array.from({ length: 1000 }, (_, i) => i).filter((i) => !dupIdx.includes(i));
    // Without exclusion a duplicate's nearest neighbour is its copy (cosine ≈ 1): inflated.
    expect(mean(withoutPrints, dupIdx) - mean(withoutPrints, others)).toBeGreaterThan(0.04);
    // With exclusion they look like every other clean image.
    expect(Math.abs(mean(withPrints, dupIdx) - mean(withPrints, others))).toBeLessThan(0.01);
    const c = calibratedCollapse(f, ref);
    expect(fractionAtMost(c.pValues, 0.05, (i) => dupIdx.includes(i))).toBeLessThan(0.1);
    expect(fractionAtMost(calibratedCollapse({ embeddings: f.embeddings }, { embeddings: ref.embeddings }).pValues, 0.05, (i) => dupIdx.includes(i))).toBeGreaterThan(0.3);
  });

  it('pixel fingerprints match resized, re-encoded copies and not other photos', () => {
    const rng = mulberry32(5);
    // Smooth random "photos": a few random sinusoids per channel, 32×32, CHW.
    const photo = (): Float32Array => {
      const waves = Array.from({ length: 6 }, () => [rng() * 0.6, rng() * 0.6, rng() * 6, normal(rng)] as const);
      const img = new Float32Array(3 * 32 * 32);
      for (let c = 0; c < 3; c++)
        for (let y = 0; y < 32; y++)
          for (let x = 0; x < 32; x++) img[(c * 32 + y) * 32 + x] = waves.reduce((a, [fy, fx, ph, amp]) => a + amp * Math.sin(fy * y + fx * x + ph + c), 0);
      return img;
    };
    const shape = { channels: 3, height: 32, width: 32 };
    const photos = Array.from({ length: 40 }, photo);
    const fps = photos.map((p) => pixelFingerprint(p, shape));
    const cos = (a: Float32Array, b: Float32Array): number => a.reduce((s, v, i) => s + v * (b[i] as number), 0);
    for (const [i, img] of photos.entries()) {
      // Re-saved: 2× upscale (nearest) as HWC bytes after an affine colour change, plus noise.
      const big = new Uint8Array(64 * 64 * 3);
      for (let y = 0; y < 64; y++)
        for (let x = 0; x < 64; x++)
          for (let c = 0; c < 3; c++) {
            const v = 128 + 20 * (img[(c * 32 + (y >> 1)) * 32 + (x >> 1)] as number) + 3 * normal(rng);
            big[(y * 64 + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(v)));
          }
      const resaved = pixelFingerprint(big, { channels: 3, height: 64, width: 64 }, { layout: 'hwc' });
      expect(cos(fps[i] as Float32Array, resaved)).toBeGreaterThan(0.97);
      // Downscaled to 24×24 (not a multiple of the 8×8 grid): area weights keep it close.
      const small = new Float32Array(3 * 24 * 24);
      const at = (c: number, y: number, x: number): number => img[(c * 32 + Math.min(31, y)) * 32 + Math.min(31, x)] as number;
      for (let c = 0; c < 3; c++)
        for (let y = 0; y < 24; y++)
          for (let x = 0; x < 24; x++) {
            // Bilinear resample at the pixel centres, as image libraries resize.
            const sy = Math.max(0, ((y + 0.5) * 32) / 24 - 0.5);
            const sx = Math.max(0, ((x + 0.5) * 32) / 24 - 0.5);
            const [y0, x0, fy, fx] = [Math.floor(sy), Math.floor(sx), sy % 1, sx % 1];
            small[(c * 24 + y) * 24 + x] = (1 - fy) * ((1 - fx) * at(c, y0, x0) + fx * at(c, y0, x0 + 1)) + fy * ((1 - fx) * at(c, y0 + 1, x0) + fx * at(c, y0 + 1, x0 + 1));
          }
      expect(cos(fps[i] as Float32Array, pixelFingerprint(small, { channels: 3, height: 24, width: 24 }))).toBeGreaterThan(0.95);
    }
    let maxOther = -1;
    for (let i = 0; i < fps.length; i++) for (let j = i + 1; j < fps.length; j++) maxOther = Math.max(maxOther, cos(fps[i] as Float32Array, fps[j] as Float32Array));
    expect(maxOther).toBeLessThan(0.95);
    // A flat image has no pattern: the zero fingerprint, never a duplicate.
    expect(Array.from(pixelFingerprint(new Float32Array(3 * 16 * 16).fill(0.7), { channels: 3, height: 16, width: 16 })).every((v) => v === 0)).toBe(true);
    const batch = pixelFingerprints(Float32Array.from([...(photos[0] as Float32Array), ...(photos[1] as Float32Array)]), shape);
    expect(batch.dim).toBe(64);
    expect(Array.from(batch.data.subarray(64))).toEqual(Array.from(fps[1] as Float32Array));
  });
});

describe('calibration against the folder (folder size does not shift the FPR)', () => {
  const alpha = 0.05;
  const ref = world.clean(1000, 500);

  /** Realised FPR pooled over clean folders of size n, and the naive one (reference scored within itself). */
  function realised(n: number, folders: number): { calibrated: number; naive: number } {
    const naiveClean = Array.from(collapseScores(ref)).sort((a, b) => a - b);
    let hits = 0;
    let naiveHits = 0;
    let total = 0;
    for (let f = 0; f < folders; f++) {
      const folder = world.folder({ n, seed: 1000 + 7 * n + f });
      const c = calibratedCollapse(folder, ref);
      for (let i = 0; i < n; i++) {
        total++;
        if ((c.pValues[i] as number) <= alpha) hits++;
        const s = c.scores[i] as number;
        if ((1 + naiveClean.filter((v) => v >= s).length) / (naiveClean.length + 1) <= alpha) naiveHits++;
      }
    }
    return { calibrated: hits / total, naive: naiveHits / total };
  }

  it('holds the target for folders of 50 images (the naive reference under-flags)', () => {
    const r = realised(50, 60);
    expect(r.calibrated).toBeGreaterThan(0.035);
    expect(r.calibrated).toBeLessThan(0.06);
    expect(r.naive).toBeLessThan(0.005);
  });

  it('holds the target for folders of 2,000 images (the naive reference over-flags)', () => {
    const r = realised(2000, 3);
    expect(r.calibrated).toBeGreaterThan(0.035);
    expect(r.calibrated).toBeLessThan(0.065);
    expect(r.naive).toBeGreaterThan(0.1);
  });
});

describe('bounded memory', () => {
  it('scores 20,000 images without any n×n (or block×n) buffer', () => {
    const n = 20_000;
    const d = 16;
    const k = 5;
    const embeddings: Rows = { data: normals(mulberry32(9), n * d), dim: d };
    // Counting allocator hook: every typed array the module creates goes through these globals.
    let largest = 0;
    const originals = { Float32Array, Float64Array, Int32Array };
    const counting = <T extends new (...args: never[]) => ArrayLike<number>>(Base: T): T =>
      class extends (Base as unknown as new (...args: unknown[]) => ArrayLike<number>) {
        constructor(...args: unknown[]) {
          super(...args);
          largest = Math.max(largest, this.length);
        }
      } as unknown as T;
    const g = globalThis as unknown as Record<string, unknown>;
    const heapBefore = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
    const t0 = performance.now();
    let scores: Float64Array;
    try {
      g.Float32Array = counting(Float32Array);
      g.Float64Array = counting(Float64Array);
      g.Int32Array = counting(Int32Array);
      scores = collapseScores({ embeddings }, { k, blockSize: 256 });
    } finally {
      Object.assign(g, originals);
    }
    const seconds = (performance.now() - t0) / 1000;
    const heapDelta = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers - heapBefore;
    console.log(`collapse n=${n} d=${d}: ${seconds.toFixed(1)} s, largest typed array ${largest} values, heap+buffers delta ${(heapDelta / 2 ** 20).toFixed(1)} MiB (n×n float64 would be ${((n * n * 8) / 2 ** 30).toFixed(1)} GiB)`);
    expect(scores.length).toBe(n);
    expect(largest).toBeGreaterThan(0);
    expect(largest).toBeLessThanOrEqual(n * Math.max(d, k));
    expect(heapDelta).toBeLessThan(64 * 2 ** 20);
  });
});
