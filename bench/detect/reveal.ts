// Target reveal on the 20% folder: how close the decoded cluster target is to the attacker's
// reference, with diagnostics and a contact sheet.
import sharp from 'sharp';
import { applyContrastMap, type ContrastMap, decodeEmbeddings, type DecoderConfig, type DecoderWeights, fitContrastMap, gatherRows, meanPixelError, revealTargets, scoreFolderSet, Scorer } from '../../src/core/dede';
import type { Preprocessing } from '../../src/core/images/preprocess';
import { denormalizeToRgb } from '../../src/core/report/image-maps';
import type { Runtime } from '../../src/core/runtime/session';
import { percent as pct } from '../lib/format';
import { concatF32, f, log, mse } from './common';
import { PIXELS, SIDE, type Trigger } from './data';
import { buildFolder } from './folders';
import type { Embedded, Normalised, RevealMetrics } from './metrics';
import { RANDOM_CLEAN } from './settings';

export async function revealOn(
  rt: Runtime,
  cfg: DecoderConfig,
  weights: DecoderWeights,
  scorer: Scorer,
  first: { folder: ReturnType<typeof buildFolder>; verdict: ReturnType<typeof scoreFolderSet> },
  trigIdx: readonly number[],
  norm: Normalised,
  emb: Embedded,
  trigger: Trigger,
  name: string,
  pre: Preprocessing,
): Promise<RevealMetrics> {
  const { folder, verdict } = first;
  const flagged = verdict.images.flatMap((v, i) => (v.flagged ? [i] : []));
  const images = concatF32(norm.testClean, gatherRows(norm.testTrig, PIXELS, trigIdx));
  const cleanPixelError = await meanPixelError(scorer, norm.cal, emb.cal);
  const calDecoded = await decodeEmbeddings(rt, cfg, weights, emb.cal);
  const contrast = fitContrastMap(norm.cal, calDecoded, PIXELS);
  const contrast64 = fitContrastMap(norm.cal.subarray(0, 64 * PIXELS), calDecoded.subarray(0, 64 * PIXELS), PIXELS);
  const targets = await revealTargets(
    { runtime: rt, cfg, weights, scorer },
    { embeddings: folder.embeddings, flagged, priority: verdict.images.map((v) => v.collapseScore), images, cleanPixelError, contrast },
  );
  const top = targets[0];
  if (!top) {
    log(`  [${name}] reveal on the 20% folder: ${flagged.length} flagged, no cluster of ≥ 3`);
    return { flagged: flagged.length, clusters: 0, members: 0, membersTriggered: 0, cohesion: NaN, mseReference: NaN, mseRandomMin: NaN, mseRandomMedian: NaN, randomCloser: NaN, closerThanAll: false, peak: null, peakInPatch: null, contrastRestored: true };
  }
  const mseRef = mse(top.target, norm.reference);
  const mseRandom = Array.from({ length: norm.randomClean.length / PIXELS }, (_, i) => mse(top.target, norm.randomClean.subarray(i * PIXELS, (i + 1) * PIXELS))).sort((a, b) => a - b);
  const peak = top.triggerMap?.peak ?? null;
  const inPatch = peak ? peak.y >= trigger.top && peak.y < trigger.top + trigger.height && peak.x >= trigger.left && peak.x < trigger.left + trigger.width : null;
  const membersTriggered = Array.from(top.members).filter((i) => folder.labels[i]).length;
  const norm2 = (v: ArrayLike<number>): number => Math.sqrt(Array.from(v).reduce((a, x) => a + x * x, 0));
  const compare = async (embedding: Float32Array, map: ContrastMap | null) => {
    const raw = await decodeEmbeddings(rt, cfg, weights, embedding);
    const img = map ? applyContrastMap(raw, map) : raw;
    const m = mse(img, norm.reference);
    const rand = Array.from({ length: norm.randomClean.length / PIXELS }, (_, i) => mse(img, norm.randomClean.subarray(i * PIXELS, (i + 1) * PIXELS)));
    return { mseReference: m, mseRandomMin: Math.min(...rand), randomCloser: rand.filter((v) => v <= m).length, norm: norm2(embedding) };
  };
  const cleanNorms = Array.from({ length: emb.cal.length / emb.dim }, (_, i) => norm2(emb.cal.subarray(i * emb.dim, (i + 1) * emb.dim))).sort((a, b) => a - b);
  const medianNorm = cleanNorms[cleanNorms.length >> 1] as number;
  const meanNorm = norm2(top.meanEmbedding);
  const cleanDecoded = applyContrastMap(await decodeEmbeddings(rt, cfg, weights, emb.testClean), contrast);
  const nClean = emb.testClean.length / emb.dim;
  const nRandom = norm.randomClean.length / PIXELS;
  const closerCounts = Array.from({ length: nClean }, (_, i) => {
    const img = cleanDecoded.subarray(i * PIXELS, (i + 1) * PIXELS);
    const own = mse(img, norm.testClean.subarray(i * PIXELS, (i + 1) * PIXELS));
    let closer = 0;
    for (let r = 0; r < nRandom; r++) if (mse(img, norm.randomClean.subarray(r * PIXELS, (r + 1) * PIXELS)) <= own) closer++;
    return closer;
  }).sort((a, b) => a - b);
  const cleanIdentified = { images: nClean, share: closerCounts.filter((c) => c === 0).length / nClean, medianCloser: closerCounts[nClean >> 1] as number };
  await revealSheet(rt, cfg, weights, contrast, top.target, norm, emb, pre, `bench/results/detect-${new Date().toISOString().slice(0, 10)}-reveal-${name}.png`);
  const diagnostics = {
    referenceEmbedding: await compare(emb.reference, contrast),
    rawTarget: await compare(top.meanEmbedding, null),
    contrast64: await compare(top.meanEmbedding, contrast64),
  };
  const m: RevealMetrics = {
    flagged: flagged.length,
    clusters: targets.length,
    members: top.members.length,
    membersTriggered,
    cohesion: top.cohesion,
    mseReference: mseRef,
    mseRandomMin: mseRandom[0] ?? NaN,
    mseRandomMedian: mseRandom[mseRandom.length >> 1] ?? NaN,
    randomCloser: mseRandom.filter((v) => v <= mseRef).length,
    closerThanAll: mseRandom.every((v) => mseRef < v),
    peak,
    peakInPatch: inPatch,
    contrastRestored: top.contrastRestored,
    diagnostics,
    cleanIdentified,
  };
  log(
    `  [${name}] reveal on the 20% folder: ${flagged.length} flagged → ${targets.length} cluster(s); largest ${m.members} members (${membersTriggered} triggered), cohesion ${f(m.cohesion)}; ` +
      `decoded target MSE to the reference image ${f(mseRef, 4)} vs ${RANDOM_CLEAN} random clean: min ${f(m.mseRandomMin, 4)}, median ${f(m.mseRandomMedian, 4)} (${m.randomCloser} closer than the reference); ` +
      `trigger-map peak at (row ${peak?.y}, col ${peak?.x}) ${inPatch ? 'inside' : 'outside'} the stamped patch rows/cols ${trigger.top}..${trigger.top + trigger.height - 1}`,
  );
  log(
    `  [${name}] reveal diagnostics: cluster-mean norm ${f(meanNorm, 1)} vs clean median ${f(medianNorm, 1)}; decoded E(reference) (norm ${f(diagnostics.referenceEmbedding.norm, 1)}, contrast restored): MSE to reference ${f(diagnostics.referenceEmbedding.mseReference, 4)}, ` +
      `${diagnostics.referenceEmbedding.randomCloser}/${RANDOM_CLEAN} random closer; target without contrast restoration: MSE ${f(diagnostics.rawTarget.mseReference, 4)}, ${diagnostics.rawTarget.randomCloser}/${RANDOM_CLEAN} random closer; ` +
      `with a contrast map from 64 clean: MSE ${f(diagnostics.contrast64.mseReference, 4)}, ${diagnostics.contrast64.randomCloser}/${RANDOM_CLEAN} random closer; ` +
      `decoder ceiling: ${pct(cleanIdentified.share)} of ${nClean} clean photos decode closer to themselves than to all ${nRandom} random (median ${cleanIdentified.medianCloser} random closer)`,
  );
  return m;
}

/**
 * A contact sheet of the reveal, 4× enlarged, one row each: the attacker's reference, the decoded
 * cluster target, the decoded E(reference), then the 4 random clean photos closest to the target;
 * and 4 clean test photos, each followed by its own decode (what the decoder draws from a clean
 * embedding). All decodes contrast restored.
 */
export async function revealSheet(rt: Runtime, cfg: DecoderConfig, weights: DecoderWeights, contrast: ContrastMap, target: Float32Array, norm: Normalised, emb: Embedded, pre: Preprocessing, file: string): Promise<void> {
  const tile = (img: Float32Array) => denormalizeToRgb(img, pre);
  const decode = async (e: Float32Array) => applyContrastMap(await decodeEmbeddings(rt, cfg, weights, e), contrast);
  const row = (i: number) => norm.randomClean.slice(i * PIXELS, (i + 1) * PIXELS);
  const nearest = Array.from({ length: norm.randomClean.length / PIXELS }, (_, i) => i).sort((a, b) => mse(target, row(a)) - mse(target, row(b))).slice(0, 4);
  const top = [norm.reference, target, await decode(emb.reference), ...nearest.map(row)];
  const bottom: Float32Array[] = [];
  for (let i = 0; i < 4; i++) bottom.push(norm.testClean.slice(i * PIXELS, (i + 1) * PIXELS), await decode(emb.testClean.slice(i * emb.dim, (i + 1) * emb.dim)));
  const scale = 4;
  const cellSize = SIDE * scale + 8;
  const composite = await Promise.all(
    [top, bottom].flatMap((images, r) =>
      images.map(async (img, c) => ({
        input: await sharp(Buffer.from(tile(img)), { raw: { width: SIDE, height: SIDE, channels: 3 } }).resize(SIDE * scale, SIDE * scale, { kernel: 'nearest' }).png().toBuffer(),
        left: c * cellSize,
        top: r * cellSize,
      })),
    ),
  );
  await sharp({ create: { width: 8 * cellSize, height: 2 * cellSize, channels: 3, background: '#ffffff' } }).composite(composite).png().toFile(file);
  log(`  reveal contact sheet: ${file} (top: reference, decoded target, decoded E(reference), 4 nearest random clean; bottom: clean photos and their decodes)`);
}
