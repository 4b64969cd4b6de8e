// npm run bench:train [-- --quick]
// DeDe decoder train-step throughput: onnxruntime-web's WASM backend (in Node) vs onnxruntime-node
// (native CPU) on the same serialised train-step graph, and the PyTorch reference on the CPU.
// Targets: WASM ≥ 0.5× native and ≥ 1× PyTorch. --quick runs the SMALL preset only.
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { buildTrainStep, initialState, toTrainGraph } from '../src/core/autograd';
import {
  buildDecoderForward,
  buildDecoderLoss,
  declareDecoderInputs,
  declareDecoderParams,
  FULL_DECODER,
  initDecoderWeights,
  numPatches,
  presetConfig,
  SMALL_DECODER,
  visibleCount,
  type DecoderConfig,
  type DecoderPreset,
} from '../src/core/dede';
import { createRuntime, type Runtime } from '../src/core/runtime/session';
import type { TrainCheckpoint } from '../src/core/train/trainer';
import { decoderBatchStream, measureTrainRate, type RateLimits, type TrainRate } from './lib/train-rate';
import { fixed as f, loadLine, table } from './lib/format';
import { torchBlasInfo, torchTrainStep, torchUnavailable } from './torch';

const BATCH = 64;
const MASK_RATIO = 0.9;
const EMBED_DIM = 512;
const THREADS = 2;
const LR = 1e-3;
const WARMUP_STEPS = 3;
/** Timed steps run until both limits are reached. */
const MIN_STEPS = 5;
const MIN_SECONDS = 6;
const TARGET = { native: 0.5, torch: 1 };
const LIMITS: RateLimits = { warmupSteps: WARMUP_STEPS, minSteps: MIN_STEPS, minSeconds: MIN_SECONDS, lr: LR };

interface PresetRun {
  readonly name: 'small' | 'full';
  readonly preset: DecoderPreset;
}

const PRESETS: readonly PresetRun[] = [
  { name: 'small', preset: SMALL_DECODER },
  { name: 'full', preset: FULL_DECODER },
];

interface Row {
  readonly name: string;
  readonly nodes: number;
  readonly params: number;
  readonly wasm: number;
  readonly native: number;
  readonly torch: number | null;
}

/**
 * The runtime seam's CPU runtime with a fixed intra-op thread count (createRuntime sets none) and
 * no spin-waiting: on shared cores, spinning pool threads starve each other and make native (and
 * PyTorch, see torch.ts) look several times slower than they are, flattering the WASM ratios.
 */
function nativeRuntime(threads: number): Runtime {
  return createRuntime(ortNode, 'cpu', { intraOpThreads: threads, allowSpinning: false });
}

/** One Adam train step of the decoder (torch.optim.Adam(lr, weight_decay=1e-6) as in the reference). */
function decoderTrainGraph(cfg: DecoderConfig, keepCount: number) {
  const weights = initDecoderWeights(cfg, 0);
  const step = buildTrainStep(
    (b) => {
      const params = declareDecoderParams(b, cfg, weights, { patchBranch: keepCount > 0 });
      const inputs = declareDecoderInputs(b, cfg, BATCH, keepCount);
      return buildDecoderLoss(b, buildDecoderForward(b, cfg, params, inputs), MASK_RATIO);
    },
    { mode: 'adam', weightDecay: 1e-6 },
  );
  return {
    graph: toTrainGraph(step),
    initial: { step: 0, tensors: initialState(step) } satisfies TrainCheckpoint,
    nodes: step.model.graph.nodes.length,
    params: step.params.reduce((n, p) => n + p.init.length, 0),
  };
}

function report(label: string, m: TrainRate): void {
  console.log(
    `  ${label.padEnd(34)} ${f(m.stepsPerSec).padStart(6)} steps/s  (${m.steps} steps in ${f(m.seconds, 1)} s, ` +
      `${f(m.cores, 1)} cores busy; loss ${f(m.firstLoss, 4)} at step 1, ${f(m.lastLoss, 4)} at step ${WARMUP_STEPS + m.steps}; session ${f(m.sessionSeconds, 1)} s)`,
  );
}

async function benchPreset(run: PresetRun, torchSkip: string | null): Promise<Row> {
  const cfg = presetConfig(run.preset, EMBED_DIM);
  const keepCount = visibleCount(cfg, MASK_RATIO);
  console.log(`\n== ${run.name.toUpperCase()} decoder: enc ${cfg.encDepth}×${cfg.encDim}, dec ${cfg.decDepth}×${cfg.decDim}; ` +
    `${cfg.imageSize}×${cfg.imageSize} images, patch ${cfg.patchSize}, batch ${BATCH}, mask ${MASK_RATIO} (${keepCount} of ${numPatches(cfg)} patches visible), embedDim ${EMBED_DIM}`);
  const t0 = performance.now();
  const { graph, initial, nodes, params } = decoderTrainGraph(cfg, keepCount);
  console.log(`  train-step graph: ${nodes} nodes, ${params.toLocaleString('en-US')} parameters, ${f(graph.bytes.length / 2 ** 20, 1)} MiB serialised (built in ${f((performance.now() - t0) / 1000, 1)} s)`);

  const wasm = await measureTrainRate(createRuntime(ortWeb, 'wasm'), graph, initial, decoderBatchStream(cfg, BATCH, keepCount), LIMITS);
  report(`ORT web WASM (${ortWeb.env.wasm.numThreads} threads)`, wasm);
  const native = await measureTrainRate(nativeRuntime(THREADS), graph, initial, decoderBatchStream(cfg, BATCH, keepCount), LIMITS);
  report(`ORT node CPU (${THREADS} threads, no spin)`, native);

  let torch: number | null = null;
  if (torchSkip) console.log(`  PyTorch CPU: skipped: ${torchSkip}`);
  else {
    // The script counts steps, not seconds: aim for MIN_SECONDS at the native backend's pace.
    const steps = Math.min(40, Math.max(MIN_STEPS, Math.ceil(MIN_SECONDS * native.stepsPerSec)));
    const r = torchTrainStep(run.name, { batch: BATCH, steps, threads: THREADS });
    for (const line of r.output) console.log(`  | ${line}`);
    console.log(`  ${`PyTorch CPU (${THREADS} threads, passive)`.padEnd(34)} ${f(r.stepsPerSec).padStart(6)} steps/s  (${steps} steps; loss ${f(r.loss, 4)} at step ${r.lastStep})`);
    torch = r.stepsPerSec;
  }
  return { name: run.name, nodes, params, wasm: wasm.stepsPerSec, native: native.stepsPerSec, torch };
}

function ratio(wasm: number, other: number | null, target: number): string {
  if (other === null) return 'n/a';
  const r = wasm / other;
  return `${f(r)} (≥${target}: ${r >= target ? 'ok' : 'MISS'})`;
}

function printTable(rows: readonly Row[]): void {
  const header = ['preset', 'nodes', 'params', 'WASM/s', 'native/s', 'torch/s', 'WASM/native', 'WASM/torch'];
  const body = rows.map((r) => [
    r.name, String(r.nodes), `${f(r.params / 1e6)}M`, f(r.wasm), f(r.native), r.torch === null ? 'skipped' : f(r.torch),
    ratio(r.wasm, r.native, TARGET.native), ratio(r.wasm, r.torch, TARGET.torch),
  ]);
  console.log(`\nSummary (train steps per second, batch ${BATCH}; ${THREADS} threads each)`);
  console.log(table(header, body));
}

/** Other processes on the same cores lower every number (PyTorch's spinning OpenMP threads most). */
function printLoad(when: string): void {
  console.log(loadLine(when));
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => a !== '--quick');
  if (unknown.length > 0) throw new Error(`unknown argument(s) ${unknown.join(' ')}; usage: npm run bench:train [-- --quick]`);
  const runs = args.includes('--quick') ? PRESETS.filter((p) => p.name === 'small') : PRESETS;

  ortWeb.env.wasm.numThreads = THREADS; // ORT falls back to 1 (and says so) where threads are unsupported
  const torchSkip = torchUnavailable();
  console.log(`DeDe decoder train step — Node ${process.version}, onnxruntime-web ${ortWeb.env.versions.web ?? '?'}, onnxruntime-node ${ortNode.env.versions.node ?? '?'}`);
  console.log(torchSkip ? `PyTorch: skipped: ${torchSkip}` : `PyTorch: ${torchBlasInfo()}`);

  printLoad('before');
  const rows: Row[] = [];
  for (const run of runs) rows.push(await benchPreset(run, torchSkip));
  printTable(rows);
  printLoad('after');
}

main().then(
  () => process.exit(0), // ORT web's WASM worker threads would keep the process alive
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
