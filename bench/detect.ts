// npm run bench:detect [-- --epochs 150 | --minutes 4] [--mask 0.9] [--blind 0] [--reuse-decoders] [--quick] [--parity] [--no-wasm] [--wait MINUTES] [--collapse-only] [--preset small|full] [--only control,backdoor,drupe,blend-noise,ctrl-frequency]
// End-to-end detection benchmark on the fixture encoders (bench/detect/settings.ts ENCODERS, data
// from scripts/fixtures/splits.json): the SMALL decoder trained on decoder_train_clean with each
// backdoored encoder (BadEncoder patch, DRUPE, blended noise, CTRL frequency) and with the clean-
// encoder control; per-image AUROC (decoderScore and the paper's dedeScore) on test_clean vs
// test_triggered (each fixture's trigger stamped on uint8 pixels before normalisation; every
// trigger on the control);
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
import { loadLine, passFail as ok, percent as pct } from './lib/format';
import { COLLAPSE_DIM, type CollapseBench, collapseChild, collapseOnly, collapseSection } from './detect/collapse';
import { concatF32, f, log, nativeRuntime } from './detect/common';
import { loadData } from './detect/data';
import { runEncoder } from './detect/encoder-run';
import type { EncoderResult } from './detect/metrics';
import { loadTriggers } from './detect/fixtures';
import { printSummary } from './detect/summary';
import { type ParityResult, runParity } from './detect/parity';
import { BATCH, budgetText, CACHE, DATA_DIR, ENCODERS, parseArgs, presetOf, recipeSuffix, recipeText, TARGET_FPR, TARGETS, THREADS } from './detect/settings';
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
  let forThroughput: (Awaited<ReturnType<typeof runEncoder>> & { readonly result: EncoderResult }) | null = null;
  const parityRoot = args.parity ? join(CACHE, 'parity') : null;
  const triggers = await loadTriggers();
  for (const e of ENCODERS.filter((x) => args.only === null || args.only.includes(x.name))) {
    if (!(await waitForEncoder(e.path, args.wait))) {
      missing.push(e.path);
      log(`\n== ${e.name}: ${e.path} is MISSING — skipped; the numbers below have no ${e.name} encoder`);
      continue;
    }
    const encoder = await loadCliEncoder(e.path, {});
    log(`\n== ${e.name} encoder: ${e.path} (sha256 ${encoder.sha256.slice(0, 12)}…, modified ${statSync(e.path).mtime.toISOString()})`);
    log(`   ${e.about}; triggers ${e.triggers.join(', ')}`);
    const r = await runEncoder(rt, e, encoder, data, triggers, args.budget, args.recipe, args.reuse, parityRoot ? join(parityRoot, e.name) : null, args.preset);
    results.push(...r.results);
    if (!forThroughput || e.name === 'backdoor') forThroughput = { ...r, result: r.results[0] as EncoderResult };
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

  const summary = printSummary(results, through, collapse, parity, args.budget, missing);
  log(`\n${loadLine('at end')}`);
  mkdirSync('bench/results', { recursive: true });
  const date = started.toISOString().slice(0, 10);
  const file = `bench/results/detect-${date}${args.quick ? '-quick' : ''}${args.preset === 'full' ? '-full' : ''}${args.only ? `-${args.only.join('+')}` : ''}${args.budget.epochs !== null && args.budget.epochs !== 150 && !args.quick ? `-epochs${args.budget.epochs}` : ''}${recipeSuffix(args.recipe)}.json`;
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

main().then(
  () => process.exit(0), // ORT web's WASM worker threads would keep the process alive
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
