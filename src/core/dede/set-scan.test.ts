import { describe, expect, it } from 'vitest';
import { SyntheticWorld, type SyntheticSet } from './__fixtures__/synthetic-set';
import { auroc, confusionAt, rocCurve } from './metrics';
import { mulberry32 } from './rng';
import { collapseGateOf, collapseGateThreshold, describeCollapseGate, scoreFolderSet, type FolderSetSettings } from './set-scan';

const world = new SyntheticWorld(1);
// Clean reference: 1,000 images for the collapse p-values, 1,000 other ones for the DeDe p-values.
const refCollapse = world.clean(1000, 900);
const refDede = world.clean(1000, 901);
const cleanRef = { embeddings: refCollapse.embeddings, fingerprints: refCollapse.fingerprints, dedeScores: refDede.dedeScores };

function scan(f: SyntheticSet, settings: FolderSetSettings) {
  return scoreFolderSet({ embeddings: f.embeddings, fingerprints: f.fingerprints, dedeScores: f.dedeScores, cleanRef }, settings);
}

/** Realised TPR/FPR of the `flagged` verdicts. */
function rates(flagged: readonly boolean[], labels: readonly boolean[]): { tpr: number; fpr: number } {
  const c = confusionAt(
    flagged.map((f) => (f ? 1 : 0)),
    labels,
    0.5,
  );
  return { tpr: c.tpr ?? NaN, fpr: c.fpr ?? NaN };
}

describe('scoreFolderSet', () => {
  it('keeps every component per image and flags at the fused p-value', () => {
    const f = world.folder({ n: 300, triggered: 15, seed: 40 });
    const r = scan(f, { targetFpr: 0.05 });
    expect(r.images).toHaveLength(300);
    expect(r).toMatchObject({ targetFpr: 0.05, fusion: 'bonferroni', weights: { dede: 0.75, collapse: 0.25 }, k: 5, cleanDedeCount: 1000, cleanCollapseCount: 1000 });
    expect(r.gate).toMatchObject({ k: 3, level: 0.15, open: true });
    expect(r.gate!.floorHits).toBeGreaterThanOrEqual(r.gate!.needed);
    for (const [i, v] of r.images.entries()) {
      expect(v.dedeScore).toBe(f.dedeScores[i]);
      expect(v.fusedP).toBeCloseTo(Math.min(1, v.dedePValue / 0.75, v.collapsePValue / 0.25), 12);
      const plain = -Math.log10(Math.min(v.dedePValue / 0.75, v.collapsePValue / 0.25));
      // Beyond every clean reference (a p-value at its floor 1/1001) the ranking score continues.
      if (v.dedePValue > 1 / 1001 && v.collapsePValue > 1 / 1001) expect(v.score).toBeCloseTo(plain, 9);
      else expect(v.score).toBeGreaterThanOrEqual(plain - 1e-9);
      expect(v.flagged).toBe(v.fusedP <= 0.05);
      expect(v.score > -Math.log10(0.05)).toBe(v.flagged);
    }
    expect(r.flaggedCount).toBe(r.images.filter((v) => v.flagged).length);
    // The triggered images all sit on the collapse floor; the ranking score still orders them.
    const atFloor = r.images.filter((v) => v.collapsePValue === 1 / 1001);
    expect(atFloor.length).toBeGreaterThanOrEqual(10);
    expect(new Set(atFloor.map((v) => v.score)).size).toBe(atFloor.length);
    const fisher = scan(f, { targetFpr: 0.05, fusion: 'fisher' });
    expect(fisher.weights).toBeNull();
  });

  for (const [triggered, label] of [
    [20, '1%'],
    [100, '5%'],
    [400, '20%'],
  ] as const) {
    it(`detects a ${label} poisoned folder of 2,000 (fused AUROC ≥ 0.99${triggered > 20 ? ', TPR ≥ 97% at FPR ≤ 3%' : ''})`, () => {
      const f = world.folder({ n: 2000, triggered, seed: 50 + triggered });
      const r = scan(f, { targetFpr: 0.03 });
      expect(r.gate?.open).toBe(true);
      const fused = auroc(
        r.images.map((v) => v.score),
        f.labels,
      );
      const dedeAlone = auroc(f.dedeScores, f.labels);
      expect(fused).toBeGreaterThanOrEqual(0.99);
      expect(fused).toBeGreaterThanOrEqual(dedeAlone);
      const scores = r.images.map((v) => v.score);
      const bestTpr = Math.max(...rocCurve(scores, f.labels).filter((pt) => pt.fpr <= 0.03).map((pt) => pt.tpr));
      expect(bestTpr).toBeGreaterThanOrEqual(0.97);
      // The verdict at the 3% target itself (its realised FPR varies with the reference draw).
      const { tpr, fpr } = rates(
        r.images.map((v) => v.flagged),
        f.labels,
      );
      expect(fpr).toBeLessThanOrEqual(0.04);
      expect(tpr).toBeGreaterThanOrEqual(0.97);
    });
  }

  it('a single triggered image is judged exactly as by the DeDe score alone (the collapse gate stays shut)', () => {
    let fusedSum = 0;
    let dedeSum = 0;
    let fusedFlags = 0;
    let dedeFlags = 0;
    const folders = 30;
    for (let s = 0; s < folders; s++) {
      const f = world.folder({ n: 400, triggered: 1, seed: 300 + s, dedeShift: 2.5 });
      const r = scan(f, { targetFpr: 0.05 });
      fusedSum += auroc(
        r.images.map((v) => v.score),
        f.labels,
      );
      dedeSum += auroc(f.dedeScores, f.labels);
      const t = f.labels.indexOf(true);
      if (r.images[t]?.flagged) fusedFlags++;
      if ((r.images[t]?.dedePValue as number) <= 0.05) dedeFlags++;
    }
    expect(fusedSum / folders).toBeGreaterThan(dedeSum / folders - 0.01);
    expect(fusedFlags).toBeGreaterThanOrEqual(dedeFlags);
    // With the gate shut the verdict is the DeDe p-value at the whole α, image by image.
    const f = world.folder({ n: 400, triggered: 1, seed: 333, dedeShift: 2.5 });
    const r = scan(f, { targetFpr: 0.05 });
    expect(r.gate?.open).toBe(false);
    expect(r.weights).toEqual({ dede: 1, collapse: 0 });
    for (const v of r.images) {
      expect(v.fusedP).toBe(v.dedePValue);
      expect(v.flagged).toBe(v.dedePValue <= 0.05);
    }
    // Ranked by the DeDe score (at the clean reference's resolution: equal p-values tie).
    const byDede = [...r.images].sort((a, b) => a.dedeScore - b.dedeScore);
    for (let i = 1; i < byDede.length; i++) expect(byDede[i]!.score).toBeGreaterThanOrEqual(byDede[i - 1]!.score);
    // Without the gate the collapse score always takes its share.
    expect(scan(f, { targetFpr: 0.05, collapseGate: null })).toMatchObject({ gate: null, weights: { dede: 0.75, collapse: 0.25 } });
  });

  it('sets the collapse gate at the Beta-binomial tail of floor hits in clean folders (checked by simulation)', () => {
    // Null model: scores i.i.d.; a folder image is at the floor when it beats all M reference scores.
    const [n, M, level] = [400, 300, 0.15];
    const needed = collapseGateThreshold(n, M, level);
    const rng = mulberry32(17);
    const trials = 20000;
    const counts = new Int32Array(n + 1);
    for (let t = 0; t < trials; t++) {
      let max = 0;
      for (let j = 0; j < M; j++) max = Math.max(max, rng());
      let hits = 0;
      for (let i = 0; i < n; i++) if (rng() > max) hits++;
      counts[hits]! += 1;
    }
    const tail = (m: number) => counts.slice(m).reduce((a, c) => a + c, 0) / trials;
    expect(needed).toBe(4);
    expect(tail(needed)).toBeLessThanOrEqual(level + 0.01);
    expect(tail(needed - 1)).toBeGreaterThan(level);
    // Exact small cases: n = 1, M = 1 gives P(X = 1) = 1/2; an empty folder never needs a hit.
    expect(collapseGateThreshold(1, 1, 0.6)).toBe(1);
    expect(collapseGateThreshold(1, 1, 0.4)).toBe(2);
    expect(collapseGateThreshold(0, 5, 0.05)).toBe(1);
    expect(() => collapseGateThreshold(10, 0, 0.05)).toThrow(/M ≥ 1/);
    expect(describeCollapseGate({ floorHits: 1, needed: 4, level: 0.15, open: false })).toMatch(/^No collapse found: 1 scanned image sat closer .*\(4 needed; .*less than 15% of the time\).*decoder score alone/);
    expect(describeCollapseGate({ floorHits: 21, needed: 4, level: 0.15, open: true })).toMatch(/^Collapse found: 21 scanned images/);
    // Decided ahead of the scan (while the decoder trains), it says what the scan will do.
    expect(describeCollapseGate({ floorHits: 21, needed: 4, level: 0.15, open: true }, 'ahead')).toBe('Collapse found: 21 suspect images sat closer to their nearest neighbours than every clean reference image (4 needed; a clean folder shows that less than 15% of the time), so the scan will give the collapse score its share of the target rate.');
    expect(describeCollapseGate({ floorHits: 0, needed: 4, level: 0.15, open: false }, 'ahead')).toMatch(/^No collapse found: 0 suspect images .*so the scan will judge every image by the decoder score alone\.$/);
  });

  it('opens the gate on a small planted group and keeps it shut on clean folders', () => {
    const small = scan(world.folder({ n: 400, triggered: 6, seed: 81 }), { targetFpr: 0.05 });
    expect(small.gate).toMatchObject({ open: true });
    let opened = 0;
    for (let s = 0; s < 20; s++) if (scan(world.folder({ n: 400, seed: 90 + s }), { targetFpr: 0.05 }).gate?.open) opened++;
    expect(opened).toBeLessThanOrEqual(5); // level 15%: about 3 of 20 expected at most
  });

  it('clean-encoder control: the collapse score does not separate, the verdict falls back on DeDe', () => {
    const f = world.folder({ n: 2000, triggered: 340, seed: 60, encoder: 'clean' });
    const r = scan(f, { targetFpr: 0.05 });
    expect(
      auroc(
        r.images.map((v) => v.collapseScore),
        f.labels,
      ),
    ).toBeLessThanOrEqual(0.7);
    expect(
      rates(
        r.images.map((v) => v.flagged),
        f.labels,
      ).fpr,
    ).toBeLessThanOrEqual(0.06);
  });

  it('a clean folder salted with exact and near duplicates keeps its realised FPR within 1 point of the target', () => {
    // The realised FPR given one clean reference of 1,000 varies around the target (conformal
    // coverage is exact on average over reference draws), so pool four folders, each with its own.
    for (const targetFpr of [0.05, 0.1]) {
      let falsePositives = 0;
      let total = 0;
      for (let s = 0; s < 4; s++) {
        const ref = world.clean(1000, 700 + s);
        const refScores = world.clean(1000, 710 + s).dedeScores;
        // 300 duplicated pairs among 2,000 images: 30% of the folder has a near-twin.
        const f = world.folder({ n: 2000, duplicates: 300, seed: 70 + s });
        const r = scoreFolderSet({ embeddings: f.embeddings, fingerprints: f.fingerprints, dedeScores: f.dedeScores, cleanRef: { embeddings: ref.embeddings, fingerprints: ref.fingerprints, dedeScores: refScores } }, { targetFpr });
        falsePositives += r.flaggedCount;
        total += 2000;
      }
      expect(Math.abs(falsePositives / total - targetFpr)).toBeLessThanOrEqual(0.01);
    }
  });

  it('refuses a clean reference too small for a component to reach the target', () => {
    const f = world.folder({ n: 100, seed: 80 });
    const small = world.clean(100, 81);
    expect(() => scoreFolderSet({ embeddings: f.embeddings, fingerprints: f.fingerprints, dedeScores: f.dedeScores, cleanRef: { ...cleanRef, embeddings: small.embeddings, fingerprints: small.fingerprints } }, { targetFpr: 0.01 })).toThrow(
      /100 clean reference embeddings.*add clean reference images/,
    );
    expect(() => scan(f, { targetFpr: 0 })).toThrow(/\(0, 1\)/);
    expect(() => scoreFolderSet({ embeddings: f.embeddings, dedeScores: f.dedeScores.subarray(1), cleanRef }, { targetFpr: 0.05 })).toThrow(/99 DeDe scores for 100/);
  });
});

describe('collapseGateOf', () => {
  it('decides the gate from embeddings alone exactly as the full verdict does, open or shut', () => {
    const ref = { embeddings: refCollapse.embeddings, fingerprints: refCollapse.fingerprints };
    for (const f of [world.folder({ n: 300, triggered: 15, seed: 40 }), world.folder({ n: 300, seed: 41 }), world.folder({ n: 200, triggered: 1, seed: 42 })]) {
      const early = collapseGateOf({ embeddings: f.embeddings, fingerprints: f.fingerprints }, ref);
      expect(early).toEqual(scan(f, { targetFpr: 0.05 }).gate);
    }
    expect(collapseGateOf({ embeddings: world.folder({ n: 300, triggered: 15, seed: 40 }).embeddings }, { embeddings: refCollapse.embeddings }).open).toBe(true);
    expect(collapseGateOf({ embeddings: world.folder({ n: 300, seed: 41 }).embeddings }, { embeddings: refCollapse.embeddings }).open).toBe(false);
  });
});
