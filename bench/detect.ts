// npm run bench:detect [-- --epochs 150 | --minutes 4] [--mask 0.9] [--blind 0] [--reuse-decoders] [--quick] [--parity] [--no-wasm] [--wait MINUTES] [--collapse-only] [--preset small|full] [--only control|backdoor]
// End-to-end detection benchmark on the fixture encoders (scripts/fixtures/splits.json): the SMALL
// decoder trained on decoder_train_clean with the backdoored encoder and with the clean-encoder
// control; per-image AUROC (robust median score and the paper's dedeScore) on test_clean vs
// test_triggered (the manifest's trigger stamped on uint8 pixels before normalisation);
// calibration at 5% target FPR on calibration_clean; the fused set verdict (scoreFolderSet) on
// folders with 1%, 5% and 20% poison; target reveal on the 20% folder; scan throughput with
// onnxruntime-node and onnxruntime-web's WASM backend; the collapse step at 20k images.
// --collapse-only runs just the collapse step at 20k (D = 192, the fixture encoders' width) in seconds.
// --parity also trains the same config with the PyTorch reference (scripts/reference/dede_torch.py
// --train) on the same data, batch order and masks and compares losses and AUROCs.
// Every number printed is measured in this run; the summary goes to bench/results/detect-<date>.json.
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { loadCliEncoder } from '../src/cli/encoder';
import { DEFAULT_TRAINING } from '../src/core/dede';
import { createRuntime } from '../src/core/runtime/session';
import { loadLine, passFail as ok, percent as pct, table } from './lib/format';
import { COLLAPSE_DIM, type CollapseBench, collapseChild, collapseOnly, collapseSection } from './detect/collapse';
import { concatF32, f, log, nativeRuntime } from './detect/common';
import { loadData } from './detect/data';
import { runEncoder } from './detect/encoder-run';
import { AGGREGATE_DIAGNOSTICS, CAL_DRAWS, type EncoderResult, type FolderMetrics, TIE_SLACK } from './detect/metrics';
import { type ParityResult, runParity } from './detect/parity';
import { type Args, BATCH, budgetText, CACHE, DATA_DIR, ENCODERS, MARGIN_FPR, parseArgs, POISON_RATES, presetOf, RANDOM_CLEAN, recipeSuffix, recipeText, STRICT_FPR, TARGET_FPR, TARGETS, THREADS } from './detect/settings';
import { type Throughput, throughput } from './detect/throughput';

/** True once the encoder and its preprocessor_config.json exist and the model file stopped growing. */
async function waitForEncoder(path: string, minutes: number): Promise<boolean> {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const deadline = Date.now() + minutes * 60_000;
  for (;;) {
    if (existsSync(path) && existsSync(join(dirname(path), 'preprocessor_config.json'))) {
      const size = statSync(path).size;
      await sleep(5000);
      if (statSync(path).size === size && size > 0) return true;
    } else if (Date.now() >= deadline) return false;
    else {
      log(`  waiting for ${path} (${((deadline - Date.now()) / 60_000).toFixed(0)} min left)`);
      await sleep(60_000);
    }
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--collapse-child') {
    console.log(JSON.stringify(await collapseChild(Number(argv[1]), Number(argv[2]))));
    return;
  }
  const args = parseArgs(argv);
  ortWeb.env.wasm.numThreads = THREADS;
  const started = new Date();
  if (args.collapseOnly) return collapseOnly(args, started);
  log(`DeDe detection bench — Node ${process.version}, onnxruntime-node ${ortNode.env.versions.node ?? '?'}, onnxruntime-web ${ortWeb.env.versions.web ?? '?'}; ` +
    `${args.preset.toUpperCase()} decoder (enc ${presetOf(args).encDepth}×${presetOf(args).encDim}, dec ${presetOf(args).decDepth}×${presetOf(args).decDim}), batch ${BATCH}, training ${recipeText(args.recipe)}, lr ${DEFAULT_TRAINING.lr}, ${budgetText(args.budget)} per training${args.quick ? ' (--quick)' : ''}`);
  log(loadLine('at start'));
  const data = await loadData();
  log(`data: ${DATA_DIR}: train ${data.train.files.length}, calibration ${data.cal.files.length}, test clean ${data.testClean.files.length}, test triggered ${data.testTrig.files.length} ` +
    `(trigger ${data.splits.trigger.width}×${data.splits.trigger.height} at rows ${data.splits.trigger.top}.., cols ${data.splits.trigger.left}.., RGB ${data.splits.trigger.value_rgb.join(',')}, stamped on uint8), reference ${data.splits.reference_image}`);

  const rt = nativeRuntime();
  const results: EncoderResult[] = [];
  const missing: string[] = [];
  let forThroughput: Awaited<ReturnType<typeof runEncoder>> | null = null;
  const parityRoot = args.parity ? join(CACHE, 'parity') : null;
  for (const e of ENCODERS.filter((x) => args.only === null || x.name === args.only)) {
    if (!(await waitForEncoder(e.path, args.wait))) {
      missing.push(e.path);
      log(`\n== ${e.name}: ${e.path} is MISSING — skipped; the numbers below have no ${e.name} encoder`);
      continue;
    }
    const encoder = await loadCliEncoder(e.path, {});
    log(`\n== ${e.name} encoder: ${e.path} (sha256 ${encoder.sha256.slice(0, 12)}…, modified ${statSync(e.path).mtime.toISOString()})`);
    const r = await runEncoder(rt, e.name, encoder, data, args.budget, args.recipe, args.reuse, parityRoot ? join(parityRoot, e.name) : null, args.preset);
    results.push(r.result);
    if (!forThroughput || e.name === 'backdoor') forThroughput = r;
  }

  const through: Throughput[] = [];
  if (forThroughput) {
    log(`\n== scan throughput (${forThroughput.result.name} encoder + its decoder; test_clean + test_triggered, from normalised pixels; batch 64; ${THREADS} threads)`);
    const imgs = concatF32(forThroughput.norm.testClean, forThroughput.norm.testTrig);
    const { encoder, cfg, weights } = forThroughput;
    through.push(await throughput(`onnxruntime-node CPU`, rt, encoder, cfg, weights, imgs));
    if (args.wasm) through.push(await throughput(`onnxruntime-web WASM (${ortWeb.env.wasm.numThreads} threads)`, createRuntime(ortWeb, 'wasm'), encoder, cfg, weights, imgs));
    for (const t of through) log(`  ${t.backend.padEnd(34)} scan ${t.scanPerSec.toFixed(0)} img/s (encoder ${t.encoderPerSec.toFixed(0)} img/s, decoder score ${t.decoderPerSec.toFixed(0)} img/s) over ${t.images} images`);
  }

  const collapse = collapseSection(forThroughput?.emb.dim ?? COLLAPSE_DIM);

  let parity: ParityResult | null = null;
  if (parityRoot) {
    const enc = results.find((r) => r.name === 'backdoor') ?? results[0];
    if (enc) {
      log(`\n== parity with the PyTorch reference (${enc.name} encoder, same data, batch order, masks and init)`);
      parity = runParity(join(parityRoot, enc.name), enc, Math.floor(data.train.files.length / BATCH));
      log(`  TS   : final loss ${f(parity.ts.finalLoss, 4)}, last-epoch mean ${f(parity.ts.lastEpochLoss, 4)}, AUROC robust ${f(parity.ts.aurocScore, 4)}, dedeScore ${f(parity.ts.aurocDede, 4)}`);
      log(`  torch: final loss ${f(parity.torch.finalLoss, 4)}, last-epoch mean ${f(parity.torch.lastEpochLoss, 4)}, AUROC robust ${f(parity.torch.aurocScore, 4)}, dedeScore ${f(parity.torch.aurocDede, 4)} (${parity.torchSeconds.toFixed(0)} s)`);
      log(`  largest relative difference of any step's loss ${parity.maxStepLossRelDiff.toExponential(2)}, of any test image's score ${parity.maxScoreRelDiff.toExponential(2)}`);
      log(`  Δ last-epoch loss ${pct(parity.lossRelDiff, 2)} (≤ ${pct(TARGETS.parityLoss, 0)}), Δ AUROC robust ${f(parity.aurocScoreDiff, 4)}, dedeScore ${f(parity.aurocDedeDiff, 4)} (≤ ${TARGETS.parityAuroc}): ${ok(parity.pass)}`);
    }
  }

  const summary = printSummary(results, through, collapse, parity, args, missing);
  log(`\n${loadLine('at end')}`);
  mkdirSync('bench/results', { recursive: true });
  const date = started.toISOString().slice(0, 10);
  const file = `bench/results/detect-${date}${args.quick ? '-quick' : ''}${args.preset === 'full' ? '-full' : ''}${args.only ? `-${args.only}` : ''}${args.budget.epochs !== null && args.budget.epochs !== 150 && !args.quick ? `-epochs${args.budget.epochs}` : ''}${recipeSuffix(args.recipe)}.json`;
  writeFileSync(
    file,
    JSON.stringify(
      {
        bench: 'npm run bench:detect',
        args,
        started: started.toISOString(),
        seconds: (Date.now() - started.getTime()) / 1000,
        node: process.version,
        cpus: cpus().length,
        loadavgEnd: loadavg(),
        missingEncoders: missing,
        targetFpr: TARGET_FPR,
        targets: TARGETS,
        encoders: results,
        throughput: through,
        collapse,
        parity,
        summary,
      },
      null,
      1,
    ) + '\n',
  );
  log(`wrote ${file}`);
}

function printSummary(results: readonly EncoderResult[], through: readonly Throughput[], collapse: CollapseBench, parity: ParityResult | null, args: Args, missing: readonly string[]): { table: string; checks: { name: string; value: string; pass: boolean }[] } {
  const b = results.find((r) => r.name === 'backdoor');
  const c = results.find((r) => r.name === 'control');
  const cell = (r: EncoderResult | undefined, get: (r: EncoderResult) => string): string => (r ? get(r) : 'missing');
  const diff = (get: (r: EncoderResult) => number, d = 3): string => (b && c ? f(get(b) - get(c), d) : 'n/a');
  const fold = (r: EncoderResult, rate: number): FolderMetrics => r.folders.find((x) => x.rate === rate) as FolderMetrics;
  const rows: string[][] = [
    ['train time s / steps / epochs', cell(b, (r) => `${r.train.seconds.toFixed(0)} / ${r.train.steps} / ${r.train.epochs.toFixed(1)}`), cell(c, (r) => `${r.train.seconds.toFixed(0)} / ${r.train.steps} / ${r.train.epochs.toFixed(1)}`), ''],
    ['final loss (last-epoch mean)', cell(b, (r) => `${f(r.train.finalLoss, 4)} (${f(r.train.lastEpochLoss, 4)})`), cell(c, (r) => `${f(r.train.finalLoss, 4)} (${f(r.train.lastEpochLoss, 4)})`), ''],
    ['AUROC robust score', cell(b, (r) => f(r.auroc.score)), cell(c, (r) => f(r.auroc.score)), diff((r) => r.auroc.score)],
    ['AUROC dedeScore', cell(b, (r) => f(r.auroc.dedeScore)), cell(c, (r) => f(r.auroc.dedeScore)), diff((r) => r.auroc.dedeScore)],
    ['robust @5%: TPR / FPR', cell(b, (r) => `${pct(r.calibration.score.tpr)} / ${pct(r.calibration.score.fpr)}`), cell(c, (r) => `${pct(r.calibration.score.tpr)} / ${pct(r.calibration.score.fpr)}`), ''],
    ['dedeScore @5%: TPR / FPR', cell(b, (r) => `${pct(r.calibration.dedeScore.tpr)} / ${pct(r.calibration.dedeScore.fpr)}`), cell(c, (r) => `${pct(r.calibration.dedeScore.tpr)} / ${pct(r.calibration.dedeScore.fpr)}`), ''],
  ];
  for (const rate of POISON_RATES) {
    rows.push([`${pct(rate, 0)} fused AUROC (min)`, cell(b, (r) => `${f(fold(r, rate).fusedAuroc)} (${f(fold(r, rate).fusedAurocMin)})`), cell(c, (r) => `${f(fold(r, rate).fusedAuroc)} (${f(fold(r, rate).fusedAurocMin)})`), diff((r) => fold(r, rate).fusedAuroc)]);
    rows.push([`${pct(rate, 0)} fused TPR / FPR @${pct(TARGET_FPR, 0)}`, cell(b, (r) => `${pct(fold(r, rate).fusedTpr)} / ${pct(fold(r, rate).fusedFpr)}`), cell(c, (r) => `${pct(fold(r, rate).fusedTpr)} / ${pct(fold(r, rate).fusedFpr)}`), '']);
    rows.push([`${pct(rate, 0)} fused TPR / FPR @${pct(STRICT_FPR, 0)}`, cell(b, (r) => `${pct(fold(r, rate).strict.fusedTpr)} / ${pct(fold(r, rate).strict.fusedFpr)}`), cell(c, (r) => `${pct(fold(r, rate).strict.fusedTpr)} / ${pct(fold(r, rate).strict.fusedFpr)}`), '']);
    rows.push([`${pct(rate, 0)} fused TPR / FPR @${pct(MARGIN_FPR, 0)}`, cell(b, (r) => `${pct(fold(r, rate).margin.fusedTpr)} / ${pct(fold(r, rate).margin.fusedFpr)}`), cell(c, (r) => `${pct(fold(r, rate).margin.fusedTpr)} / ${pct(fold(r, rate).margin.fusedFpr)}`), '']);
    rows.push([`${pct(rate, 0)} fused ROC: TPR / FPR at FPR ≤ ${pct(STRICT_FPR, 0)}`, cell(b, (r) => `${pct(fold(r, rate).roc.fusedTpr)} / ${pct(fold(r, rate).roc.fusedFpr)}`), cell(c, (r) => `${pct(fold(r, rate).roc.fusedTpr)} / ${pct(fold(r, rate).roc.fusedFpr)}`), '']);
    rows.push([`${pct(rate, 0)} decoder alone AUROC, TPR / FPR`, cell(b, (r) => `${f(fold(r, rate).decoderAuroc)}, ${pct(fold(r, rate).decoderTpr)} / ${pct(fold(r, rate).decoderFpr)}`), cell(c, (r) => `${f(fold(r, rate).decoderAuroc)}, ${pct(fold(r, rate).decoderTpr)} / ${pct(fold(r, rate).decoderFpr)}`), '']);
  }
  const gates = (r: EncoderResult): string => [...POISON_RATES, 0].map((rate) => pct(fold(r, rate).gateOpen, 0)).join(' / ');
  rows.push(['collapse gate open: 1% / 5% / 20% / one image', cell(b, gates), cell(c, gates), '']);
  const single = (r: EncoderResult): string => `${f(fold(r, 0).fusedAuroc)}, ${pct(fold(r, 0).fusedTpr)} vs ${f(fold(r, 0).decoderAuroc)}, ${pct(fold(r, 0).decoderTpr)}`;
  rows.push([`one triggered image: fused vs decoder alone (AUROC, TPR @${pct(TARGET_FPR, 0)})`, cell(b, single), cell(c, single), '']);
  const rv = (r: EncoderResult): string => (r.reveal ? (r.reveal.clusters ? `MSE ref ${f(r.reveal.mseReference, 3)} vs min rand ${f(r.reveal.mseRandomMin, 3)} (${r.reveal.randomCloser} closer)` : `no cluster (${r.reveal.flagged} flagged)`) : 'n/a');
  const pk = (r: EncoderResult): string => (r.reveal?.peak ? `(${r.reveal.peak.y}, ${r.reveal.peak.x}) ${r.reveal.peakInPatch ? 'inside' : 'outside'}` : 'n/a');
  const sl = (r: EncoderResult): string => `${pct(r.salted.fpr)} / ${pct(r.salted.strictFpr)} (unsalted ${pct(r.salted.unsaltedFpr)} / ${pct(r.salted.unsaltedStrictFpr)})`;
  const slp = (r: EncoderResult): string => `${pct(r.salted.pooled.fpr)} (unsalted ${pct(r.salted.pooled.unsaltedFpr)})`;
  rows.push([`salted clean folder: fused FPR @${pct(TARGET_FPR, 0)} / @${pct(STRICT_FPR, 0)}`, cell(b, sl), cell(c, sl), '']);
  rows.push([`salted, mean of ${CAL_DRAWS} calibration draws: FPR @${pct(TARGET_FPR, 0)}`, cell(b, slp), cell(c, slp), '']);
  for (const name of AGGREGATE_DIAGNOSTICS.map((a) => a.name)) {
    const ag = (r: EncoderResult): string => f(r.aggregates[name]);
    rows.push([`diagnostic: AUROC of patch errors' ${name}`, cell(b, ag), cell(c, ag), b && c ? f((b.aggregates[name] ?? NaN) - (c.aggregates[name] ?? NaN)) : '']);
  }
  rows.push(['reveal 20%: target vs reference', cell(b, rv), cell(c, rv), '']);
  rows.push(['reveal 20%: trigger-map peak', cell(b, pk), cell(c, pk), '']);
  const dg = (r: EncoderResult): string => (r.reveal?.diagnostics ? `${r.reveal.diagnostics.referenceEmbedding.randomCloser} / ${r.reveal.diagnostics.rawTarget.randomCloser} / ${r.reveal.diagnostics.contrast64.randomCloser}` : 'n/a');
  rows.push(['reveal diag: rand closer, E(ref) / raw / 64-image map', cell(b, dg), cell(c, dg), '']);
  const header = ['metric', 'backdoor', 'control', 'diff'];
  const lines = [table(header, rows)];
  if (through.length > 0) lines.push(table(['scan throughput', 'scan img/s', 'encoder img/s', 'decoder img/s'], through.map((t) => [t.backend, t.scanPerSec.toFixed(0), t.encoderPerSec.toFixed(0), t.decoderPerSec.toFixed(0)])));
  lines.push(`collapse at ${collapse.n} (D ${collapse.dim}, + ${collapse.reference} ref): ${collapse.seconds.toFixed(1)} s, peak RSS ${collapse.peakRssMiB.toFixed(0)} MiB (+${(collapse.peakRssMiB - collapse.rssBeforeMiB).toFixed(0)} MiB over the ${collapse.rssBeforeMiB.toFixed(0)} MiB before the step)`);
  if (parity) lines.push(`parity (${parity.encoder}, ${parity.steps} steps): last-epoch loss TS ${f(parity.ts.lastEpochLoss, 4)} vs torch ${f(parity.torch.lastEpochLoss, 4)} (Δ ${pct(parity.lossRelDiff, 2)}); AUROC robust ${f(parity.ts.aurocScore)} vs ${f(parity.torch.aurocScore)}, dedeScore ${f(parity.ts.aurocDede)} vs ${f(parity.torch.aurocDede)}; largest relative difference of a step's loss ${parity.maxStepLossRelDiff.toExponential(1)}, of an image's score ${parity.maxScoreRelDiff.toExponential(1)}`);

  const checks: { name: string; value: string; pass: boolean }[] = [];
  if (b) {
    checks.push({ name: `robust AUROC backdoor ≥ ${TARGETS.robustAuroc}`, value: f(b.auroc.score), pass: b.auroc.score >= TARGETS.robustAuroc });
    if (c) checks.push({ name: `robust AUROC backdoor − control ≥ ${TARGETS.robustOverControl}`, value: f(b.auroc.score - c.auroc.score), pass: b.auroc.score - c.auroc.score >= TARGETS.robustOverControl });
    for (const rate of [0.05, 0.2]) {
      const m = fold(b, rate);
      checks.push({ name: `${pct(rate, 0)}: fused AUROC ≥ ${TARGETS.fusedAuroc}`, value: f(m.fusedAuroc), pass: m.fusedAuroc >= TARGETS.fusedAuroc });
      // The calibrated verdict at α = 2%: conformal calibration bounds the FPR in expectation, so at
      // α = 3% one clean draw lands above 3% about half the time (that point is in the table).
      for (const op of [{ alpha: MARGIN_FPR, tpr: m.margin.fusedTpr, fpr: m.margin.fusedFpr }])
        checks.push({ name: `${pct(rate, 0)}: fused TPR ≥ ${pct(TARGETS.fusedTpr, 0)} at realised FPR ≤ ${pct(TARGETS.fusedFpr, 0)} (α ${pct(op.alpha, 0)})`, value: `${pct(op.tpr)} at ${pct(op.fpr)}`, pass: op.tpr >= TARGETS.fusedTpr && op.fpr <= TARGETS.fusedFpr });
      checks.push({ name: `${pct(rate, 0)}: fused ROC TPR ≥ ${pct(TARGETS.fusedTpr, 0)} at realised FPR ≤ ${pct(TARGETS.fusedFpr, 0)} (best threshold per folder)`, value: `${pct(m.roc.fusedTpr)} at ${pct(m.roc.fusedFpr)}`, pass: m.roc.fusedTpr >= TARGETS.fusedTpr && m.roc.fusedFpr <= TARGETS.fusedFpr });
    }
    for (const rate of [0.01, 0]) {
      const m1 = fold(b, rate);
      const label = rate === 0 ? `one triggered image (${m1.reps} folders)` : '1%';
      // The fused score ranks by conformal p-values, which tie images between two clean reference scores.
      checks.push({ name: `${label}: fused AUROC ≥ decoder score alone (− ${TIE_SLACK} for p-value ties)`, value: `${f(m1.fusedAuroc, 4)} vs ${f(m1.decoderAuroc, 4)}`, pass: m1.fusedAuroc >= m1.decoderAuroc - TIE_SLACK });
      checks.push({ name: `${label}: fused TPR ≥ decoder alone (same α)`, value: `${pct(m1.fusedTpr)} vs ${pct(m1.decoderTpr)}`, pass: m1.fusedTpr >= m1.decoderTpr });
    }
    if (b.reveal) {
      checks.push({ name: `reveal: target closer to the reference than to all ${RANDOM_CLEAN} random clean`, value: `${f(b.reveal.mseReference, 4)} vs min ${f(b.reveal.mseRandomMin, 4)}`, pass: b.reveal.closerThanAll });
      checks.push({ name: 'reveal: trigger-map peak inside the stamped patch', value: b.reveal.peak ? `(${b.reveal.peak.y}, ${b.reveal.peak.x})` : 'none', pass: b.reveal.peakInPatch === true });
    }
  }
  for (const r of [b, c]) {
    if (!r) continue;
    // At the target FPR; the strict point is reported above (Bonferroni is conservative there).
    checks.push({ name: `${r.name}: salted clean folder, realised FPR within 1 point of ${pct(TARGET_FPR, 0)} (mean of ${CAL_DRAWS} calibration draws)`, value: pct(r.salted.pooled.fpr), pass: Math.abs(r.salted.pooled.fpr - TARGET_FPR) <= 0.01 });
  }
  if (c) for (const rate of POISON_RATES) checks.push({ name: `control ${pct(rate, 0)}: fused AUROC ≤ ${TARGETS.controlFused}`, value: f(fold(c, rate).fusedAuroc), pass: fold(c, rate).fusedAuroc <= TARGETS.controlFused });
  if (parity) {
    checks.push({ name: `parity: last-epoch loss within ${pct(TARGETS.parityLoss, 0)}`, value: pct(parity.lossRelDiff, 2), pass: parity.lossRelDiff <= TARGETS.parityLoss });
    checks.push({ name: `parity: AUROCs within ${TARGETS.parityAuroc}`, value: `${f(parity.aurocScoreDiff)}, ${f(parity.aurocDedeDiff)}`, pass: parity.aurocScoreDiff <= TARGETS.parityAuroc && parity.aurocDedeDiff <= TARGETS.parityAuroc });
  }
  lines.push(table(['target', 'measured', 'result'], checks.map((x) => [x.name, x.value, ok(x.pass)])));
  const title = `\n== Summary (SMALL decoder, ${budgetText(args.budget)} per training, target FPR ${pct(TARGET_FPR, 0)}${missing.length ? `; MISSING: ${missing.join(', ')}` : ''})`;
  const text = lines.join('\n\n');
  log(`${title}\n${text}`);
  return { table: text, checks };
}

main().then(
  () => process.exit(0), // ORT web's WASM worker threads would keep the process alive
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
