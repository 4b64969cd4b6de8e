// npx tsx bench/score-candidates.ts [--only control,backdoor,...] [--epochs 150]
// Measures candidate per-image scores (bench/detect/candidates.ts) on every fixture encoder of
// bench/detect/fixtures.ts: the SMALL decoder trained on decoder_train_clean (cached and reused like
// bench:detect's), then AUROC on test_clean vs test_triggered (each fixture's trigger; every trigger
// on the clean control) and TPR at a threshold calibrated on calibration_clean (target FPR 5%).
// Writes bench/results/scores-<date>.json; every number is measured in this run. --dump DIR also
// writes each set's images, reconstructions, E(x), E(x̂), E(flip x) and scores as float32 files.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCliEncoder, type CliEncoder } from '../src/cli/encoder';
import { auroc, calibrate, DEFAULT_TRAINING, presetConfig, realisedFpr, Scorer, SMALL_DECODER, buildScorerModel, type DecoderConfig, type DecoderWeights } from '../src/core/dede';
import { EncoderRunner } from '../src/core/dede/encoder-runner';
import { serializeModel } from '../src/core/onnx/serialize';
import { readFloat32, type Runtime } from '../src/core/runtime/session';
import { blurImages, type CandidateInputs, candidateScores, flipImages } from './detect/candidates';
import { concat, f, labels, log, nativeRuntime } from './detect/common';
import { loadData, normalise, PIXELS, type RgbSet } from './detect/data';
import { applyTrigger, loadTriggers } from './detect/fixtures';
import { CACHE, ENCODERS as FIXTURES } from './detect/settings';
import { trainOrReuse } from './detect/training';

const RECON_BATCH = 64;

async function reconstruct(rt: Runtime, cfg: DecoderConfig, weights: DecoderWeights, images: Float32Array, emb: Float32Array): Promise<Float32Array> {
  const session = await rt.createSession(serializeModel(buildScorerModel(cfg, weights, { batch: RECON_BATCH, maskRatio: 0.99, outputs: ['reconstruction'] })));
  const n = emb.length / cfg.embedDim;
  const out = new Float32Array(n * PIXELS);
  try {
    for (let s = 0; s < n; s += RECON_BATCH) {
      const count = Math.min(RECON_BATCH, n - s);
      const img = new Float32Array(RECON_BATCH * PIXELS);
      img.set(images.subarray(s * PIXELS, (s + count) * PIXELS));
      const e = new Float32Array(RECON_BATCH * cfg.embedDim);
      e.set(emb.subarray(s * cfg.embedDim, (s + count) * cfg.embedDim));
      const res = await session.run({ images: new rt.ort.Tensor('float32', img, [RECON_BATCH, 3, 32, 32]), embedding: new rt.ort.Tensor('float32', e, [RECON_BATCH, cfg.embedDim]) }, ['reconstruction']);
      out.set((await readFloat32(res.reconstruction!)).subarray(0, count * PIXELS), s * PIXELS);
      for (const t of Object.values(res)) t.dispose();
    }
  } finally {
    await session.release();
  }
  return out;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const onlyArg = argv.indexOf('--only');
  const only = onlyArg >= 0 ? (argv[onlyArg + 1] ?? '').split(',') : null;
  const epochsArg = argv.indexOf('--epochs');
  const epochs = epochsArg >= 0 ? Number(argv[epochsArg + 1]) : 150;
  const dumpArg = argv.indexOf('--dump');
  const dump = dumpArg >= 0 ? (argv[dumpArg + 1] ?? null) : null;
  const save = (fixture: string, set: string, c: CandidateInputs): void => {
    if (!dump) return;
    const d = join(dump, fixture, set);
    mkdirSync(d, { recursive: true });
    const w = (k: string, a: Float32Array | Float64Array) => writeFileSync(join(d, `${k}.f32`), Buffer.from(Float32Array.from(a).buffer));
    w('images', c.images);
    w('recon', c.recon);
    w('emb', c.emb);
    w('embRecon', c.embRecon);
    w('embFlip', c.embFlip);
    w('median', c.median);
    w('dede', c.dedeScore);
  };
  const rt = nativeRuntime();
  const data = await loadData();
  const triggers = await loadTriggers();
  const trustedEnc = await loadCliEncoder(FIXTURES[0]!.path, {});
  const trusted = await EncoderRunner.create(rt, trustedEnc.spec, 64);
  const embedWith = async (r: EncoderRunner, x: Float32Array) => r.embed(x, x.length / PIXELS);
  const dir = join(CACHE, 'score-candidates');
  mkdirSync(dir, { recursive: true });
  for (const fx of FIXTURES.filter((x) => only === null || only.includes(x.name))) {
    const enc: CliEncoder = await loadCliEncoder(fx.path, {});
    const p = enc.preprocessing;
    const runner = await EncoderRunner.create(rt, enc.spec, 64);
    const t0 = performance.now();
    const train = normalise(data.train, p);
    const embTrain = await embedWith(runner, train);
    const cfg = presetConfig(SMALL_DECODER, embTrain.dim);
    const tr = await trainOrReuse(rt, enc.sha256, cfg, { train }, { train: embTrain.data }, { epochs, minutes: null }, { maskRatio: DEFAULT_TRAINING.maskRatio, blindShare: DEFAULT_TRAINING.blindShare }, true, fx.name);
    log(`[${fx.name}] decoder ready after ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    const scorer = await Scorer.create(rt, cfg, tr.weights, { batch: 64 });
    const inputsOf = async (set: RgbSet): Promise<CandidateInputs> => {
      const images = normalise(set, p);
      const n = set.files.length;
      const emb = (await embedWith(runner, images)).data;
      const recon = await reconstruct(rt, cfg, tr.weights, images, emb);
      const s = await scorer.scoreBatch(images, emb);
      // The trusted encoder may normalise differently: its inputs are x and x̂ mapped back to uint8 space first.
      const tp = trustedEnc.preprocessing;
      const same = JSON.stringify(tp) === JSON.stringify(p);
      if (!same) throw new Error(`${fx.name}: its preprocessing differs from the trusted encoder's; this harness assumes the fixtures share it`);
      return {
        n, images, recon, dim: cfg.embedDim, emb, embRecon: (await embedWith(runner, recon)).data,
        trustDim: 0, trust: new Float32Array(0), trustRecon: new Float32Array(0),
        embFlip: (await embedWith(runner, flipImages(images))).data, embBlur: (await embedWith(runner, blurImages(images))).data,
        dedeScore: Float64Array.from(s, (x) => x.dedeScore), median: Float64Array.from(s, (x) => x.score),
      };
    };
    const withTrust = async (c: CandidateInputs): Promise<CandidateInputs> => {
      const t = await embedWith(trusted, c.images);
      return { ...c, trustDim: t.dim, trust: t.data, trustRecon: (await embedWith(trusted, c.recon)).data };
    };
    const measured = async (setName: string, set: RgbSet) => {
      const c = await withTrust(await inputsOf(set));
      save(fx.name, setName, c);
      return candidateScores(c);
    };
    const cal = await measured('cal', data.cal);
    const clean = await measured('clean', data.testClean);
    const result: Record<string, Record<string, { auroc: number; tpr: number; fpr: number }>> = {};
    for (const tname of fx.triggers) {
      const trig = await measured(`trig-${tname}`, applyTrigger(data.testTrigPhotos, triggers[tname]));
      const lab = labels(data.testClean.files.length, data.testTrigPhotos.files.length);
      const rows: Record<string, { auroc: number; tpr: number; fpr: number }> = {};
      for (const name of Object.keys(clean)) {
        const th = calibrate(cal[name]!, { method: 'fpr', target: 0.05 }, { kind: 'median' });
        const tpr = Array.from(trig[name]!).filter((v) => v > th.threshold).length / trig[name]!.length;
        rows[name] = { auroc: auroc(concat(clean[name]!, trig[name]!), lab), tpr, fpr: realisedFpr(th, clean[name]!).fpr };
      }
      result[tname] = rows;
      log(`\n[${fx.name}] trigger ${tname}: AUROC, TPR / realised FPR at 5%`);
      for (const [k, v] of Object.entries(rows)) log(`  ${k.padEnd(44)} ${f(v.auroc)}  ${(100 * v.tpr).toFixed(1)}% / ${(100 * v.fpr).toFixed(1)}%`);
    }
    writeFileSync(join(dir, `${fx.name}.json`), JSON.stringify({ fixture: fx, sha256: enc.sha256, epochs, decoder: { steps: tr.steps, reused: tr.reused }, result }, null, 1));
    await scorer.dispose();
    await runner.dispose();
  }
  await trusted.dispose();
  const merged = FIXTURES.map((fx) => join(dir, `${fx.name}.json`)).filter((x) => existsSync(x)).map((x) => JSON.parse(readFileSync(x, 'utf8')));
  const out = `bench/results/scores-${new Date().toISOString().slice(0, 10)}.json`;
  writeFileSync(out, JSON.stringify({ bench: 'npx tsx bench/score-candidates.ts', fixtures: merged }, null, 1) + '\n');
  log(`wrote ${out}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
