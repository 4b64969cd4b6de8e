// Calibrate and Scan: scores through the model worker, threshold math in core, rows into the store
// (and OPFS, so a reload brings the results back).
import * as Comlink from 'comlink';
import { calibrate, isFlagged, pValues, splitCalibration, type CalibrationMethod, type HeldOutReport } from '../../core/dede/calibrate';
import { isCancelled } from '../../core/runtime/cancel';
import { contentScores } from '../../core/dede/content-calibration';
import { type ContentScale, fitContentScale } from '../../core/dede/content-score';
import { cleanComponentZ, decoderComponentsOf } from '../../core/report/scan-report';
import type { ScoreKind } from '../../core/dede/scores';
import { errorText } from '../../core/runtime/error-text';
import { OpfsFileStore } from '../../core/workflow/files';
import { saving } from '../../core/workflow/storage-full';
import type { ScoringProgress } from '../../core/workflow/scoring';
import { chunkCount } from '../../core/images/dataset';
import { framingProblems } from '../../core/images/framing';
import { getBackend, noteResumed, runOnBackend } from '../backend/backend-service';
import { workerJob, type Backend } from '../backend/model-client';
import { cancelAppJob, runAppJob } from '../backend/app-jobs';
import { useEncoderStore } from '../encoder/encoder-store';
import { datasetStorage } from '../../core/workflow/dataset-storage';
import { scanFolders, useImagesStore, type DatasetSummary } from '../images/images-store';
import { datasetPaths } from '../images/images-service';
import { useTrainStore } from '../train/train-store';
import { datasetRef, encoderFileRef } from '../workflow/refs';
import { describeReadout, sameReadout } from '../../core/onnx/readout';
import { ScanTable } from '../../core/workflow/scan-table';
import { useScanStore, type CalibrationState, type ScanRow } from './scan-store';
import { canContinueScan } from './scan-resume';

const files = new OpfsFileStore();
/** The last scan's table in its binary form (ScanTable.encode). */
const TABLE_PATH = 'scans/latest.table';
/** Share of the calibration scores kept aside to measure the realised false-positive rate. */
export const CALIBRATION_CHECK_FRACTION = 0.3;

/** Why the encoder's readout cannot score with the current decoder (none chosen, or not the one it was trained on). */
function readoutProblem(): string | null {
  const encoder = useEncoderStore.getState().encoder;
  const run = useTrainStore.getState().run;
  if (!encoder?.check.ok) return null;
  if (!encoder.readout) return `Choose the embedding output in the Encoder step: ${encoder.readoutQuestion ?? 'none is chosen.'}`;
  if (run?.readout && !sameReadout(run.readout, encoder.readout)) {
    return `The decoder was trained on the embedding ${describeReadout(run.readout)}, but the Encoder step now reads ${describeReadout(encoder.readout)}: choose ${describeReadout(run.readout)} again, or train a new decoder.`;
  }
  return null;
}

export function calibrationProblems(): string[] {
  const run = useTrainStore.getState().run;
  const encoder = useEncoderStore.getState().encoder;
  const problems: string[] = [];
  if (!encoder?.check.ok || !encoder.preprocessing) problems.push('Load an image encoder in the Encoder step.');
  else {
    const readout = readoutProblem();
    if (readout) problems.push(readout);
  }
  if (!run?.decoderPath || run.status !== 'done') problems.push('Train a decoder (or import one) in the Train step.');
  else if (run.heldOutSlots.length < 20) problems.push(`Only ${run.heldOutSlots.length} clean images were held back; at least 20 are needed (raise the held-back share, or add clean images).`);
  if (!cleanDataset()) problems.push('The clean reference folder is missing (Images step).');
  return problems;
}

export function cleanDataset(): DatasetSummary | null {
  const run = useTrainStore.getState().run;
  const datasets = useImagesStore.getState().datasets;
  return datasets.find((d) => d.id === run?.datasetId && d.status === 'ready') ?? datasets.find((d) => d.role === 'clean' && d.status === 'ready') ?? null;
}

export function scanTargets(): DatasetSummary[] {
  return scanFolders(useImagesStore.getState().datasets);
}

/** `contentScale`: the calibration's (a scan), or null (calibrating: fitted on the result, §5.3.1). */
async function scoreSlots(backend: Backend, dataset: DatasetSummary, slots: readonly number[] | null, contentScale: ContentScale | null, signal: AbortSignal | undefined, onProgress: (p: ScoringProgress) => void) {
  const encoder = useEncoderStore.getState().encoder;
  const run = useTrainStore.getState().run;
  if (!encoder?.preprocessing || !run?.decoderPath) throw new Error('The encoder or the decoder is missing.');
  return workerJob(backend, signal, (jobId) => backend.api.scoreDataset(jobId, {
    encoder: encoderFileRef(encoder),
    dataset: datasetRef(dataset),
    slots,
    preprocessing: encoder.preprocessing!,
    decoderPath: run.decoderPath!,
    scorer: { rounds: 4 },
    contentScale,
  }, Comlink.proxy(onProgress)));
}

/**
 * The threshold uses every held-back clean score; the realised FPR is measured by refitting on
 * part of them and counting false positives on the rest, when there are enough for that.
 */
export function applyMethod(state: Pick<CalibrationState, 'cleanScores'> & { readonly scoreKind: ScoreKind }, method: CalibrationMethod) {
  const calibration = calibrate(state.cleanScores, method, state.scoreKind);
  let heldOut: HeldOutReport | null = null;
  try {
    heldOut = splitCalibration(state.cleanScores, CALIBRATION_CHECK_FRACTION, 0, method, state.scoreKind).heldOut;
  } catch {
    heldOut = null; // too few scores to fit on a part: the UI says so
  }
  return { calibration, heldOut };
}

/** Scores the held-back clean images; aborting `signal` (or cancelCalibration) cancels it (nothing is saved). */
export function runCalibration(method: CalibrationMethod, signal?: AbortSignal): Promise<void> {
  return runAppJob('calibration', (jobSignal) => calibrateNow(method, jobSignal), signal);
}

/** Cancels the calibration in progress, if any. */
export function cancelCalibration(): void {
  cancelAppJob('calibration');
}

async function calibrateNow(method: CalibrationMethod, signal: AbortSignal): Promise<void> {
  const problems = calibrationProblems();
  if (problems.length > 0) throw new Error(problems.join(' '));
  const run = useTrainStore.getState().run!;
  const dataset = cleanDataset()!;
  const { setCalibrating, setCalibration } = useScanStore.getState();
  setCalibrating({ done: 0, total: run.heldOutSlots.length, phase: 'embed', etaSeconds: null });
  try {
    // After a backend fault the held-back images are scored again from the start (they are few).
    const result = await runOnBackend((backend) => scoreSlots(backend, dataset, run.heldOutSlots, null, signal, (p) =>
      setCalibrating(p.phase === 'embed' ? { done: p.done, total: p.total, phase: 'embed', etaSeconds: p.etaSeconds } : { done: p.done, total: p.total, phase: 'score', etaSeconds: null }),
    ));
    // The content score's clean scale is fitted on these images and the threshold on their content
    // scores (docs/ARCHITECTURE.md §5.3.1); the scale travels in the calibration's scoreKind. The
    // realised-FPR check refits τ on a part, with the scale fitted on all of them (few images).
    const scale = fitContentScale(result.components);
    const cleanScores = Array.from(contentScores(result.components, scale));
    const state = { cleanScores, scoreKind: { kind: 'content', scale } as const };
    setCalibration({
      runId: run.runId,
      decoderSha256: result.decoderSha256,
      datasetName: dataset.name,
      slots: result.slots,
      cleanScores,
      cleanComponentZ: cleanComponentZ(result.components, scale),
      method,
      ...applyMethod(state, method),
      scoredAt: new Date().toISOString(),
    });
  } finally {
    setCalibrating(null);
  }
}

/** Re-derives the threshold for another method without rescoring. */
export function changeMethod(method: CalibrationMethod): void {
  const { calibration, setCalibration } = useScanStore.getState();
  if (!calibration) return;
  setCalibration({ ...calibration, method, ...applyMethod({ cleanScores: calibration.cleanScores, scoreKind: calibration.calibration.scoreKind }, method) });
}

function contentScaleOf(cal: CalibrationState): ContentScale {
  const kind = cal.calibration.scoreKind;
  if (kind.kind !== 'content') throw new Error('The calibration was made before the content score: calibrate again.');
  return kind.scale;
}

export function scanProblems(): string[] {
  const problems: string[] = [];
  const cal = useScanStore.getState().calibration;
  const run = useTrainStore.getState().run;
  if (!cal) problems.push('Calibrate the threshold first (Calibrate step).');
  else if (cal.calibration.scoreKind.kind !== 'content') problems.push('The calibration was made before the content score (docs: "How an image is judged"): calibrate again.');
  else if (run && cal.runId !== run.runId) problems.push('The decoder changed since calibration: calibrate again.');
  const readout = readoutProblem();
  if (readout) problems.push(readout);
  if (scanTargets().length === 0) problems.push('Add a suspect folder in the Images step (role: suspect, or known poisoned to measure detection).');
  const preprocessing = useEncoderStore.getState().encoder?.preprocessing;
  if (preprocessing) for (const d of scanTargets()) problems.push(...framingProblems(d, preprocessing));
  return problems;
}


function unscoredSlots(dataset: DatasetSummary): number[] {
  const table = useScanStore.getState().table;
  const scored = new Set<number>();
  for (let i = 0; i < table.length; i++) if (table.folderOf(i).id === dataset.id) scored.add(table.slot(i));
  return Array.from({ length: dataset.counts.images }, (_, i) => i).filter((i) => !scored.has(i));
}

/** How often a running scan saves its table, so a reload keeps its rows (each save writes the whole table). */
const SAVE_ROWS_EVERY_MS = 3_000;

function saveTable(): Promise<void> {
  return saving('the scan results', () => files.write(TABLE_PATH, useScanStore.getState().table.encode()));
}

/**
 * Scans every suspect folder. With `resume`, an interrupted scan (page reloaded, cancelled,
 * failed) continues: its rows stay and only the images without a row are scored. Aborting `signal`
 * (or cancelScan) cancels it: the scan ends 'cancelled' with the rows it has.
 */
export function runScan(resume = false, signal?: AbortSignal): Promise<void> {
  return runAppJob('scan', (scanSignal) => scan(resume, scanSignal), signal);
}

async function scan(resume: boolean, scanSignal: AbortSignal): Promise<void> {
  const problems = scanProblems();
  if (problems.length > 0) throw new Error(problems.join(' '));
  const cal = useScanStore.getState().calibration!;
  const targets = scanTargets();
  const { setScan, patchScan, setTable } = useScanStore.getState();
  const previous = useScanStore.getState().scan;
  const resuming = resume && canContinueScan(previous, cal.decoderSha256, targets.map((d) => d.id));
  const scanId = resuming ? previous.scanId : `s${Date.now().toString(36)}`;
  const total = targets.reduce((a, d) => a + d.counts.images, 0);
  if (resuming) {
    patchScan({ status: 'scanning', error: null, done: useScanStore.getState().table.length });
  } else {
    setTable(ScanTable.empty(scanId, targets.map((d) => ({ id: d.id, name: d.name, role: d.role }))));
    setScan({
      scanId,
      status: 'scanning',
      startedAt: new Date().toISOString(),
      datasets: targets.map((d) => ({ id: d.id, name: d.name, role: d.role, count: d.counts.images })),
      done: 0,
      total,
      flagged: 0,
      seconds: 0,
      decoderSha256: cal.decoderSha256,
      threshold: cal.calibration.threshold,
      error: null,
      savedRows: 0,
    });
  }
  const started = performance.now() - (resuming ? previous.seconds * 1000 : 0);
  let lastSave = 0;
  let pendingSave: Promise<void> | null = null;
  const saveSoon = () => {
    if (pendingSave || performance.now() - lastSave < SAVE_ROWS_EVERY_MS) return;
    const count = useScanStore.getState().table.length;
    lastSave = performance.now();
    pendingSave = saveTable()
      .then(() => patchScan({ savedRows: count }), () => undefined) // the final save reports a failure
      .finally(() => (pendingSave = null));
  };
  try {
    for (const [folder, dataset] of targets.entries()) {
      const paths = await datasetPaths(dataset);
      const onProgress = (p: ScoringProgress) => {
        if (p.phase === 'embed') {
          patchScan({ embedding: p.done < p.total ? { folder: dataset.name, done: p.done, total: p.total, etaSeconds: p.etaSeconds } : null });
          return;
        }
        const { slots, scores, dedeScores } = p.chunk;
        const flagged = Array.from(scores, (score) => isFlagged(score, cal.calibration));
        const scale = contentScaleOf(cal);
        const components = p.chunk.components.map((c, k) => decoderComponentsOf(c, scale, p.chunk.medianErrors[k]!));
        const s = useScanStore.getState();
        setTable(s.table.append({ folder, slots, paths: Array.from(slots, (slot) => paths[slot] ?? `${dataset.name}/#${slot}`), scores, dedeScores, pValues: pValues(scores, cal.calibration), flagged, components }));
        patchScan({ done: useScanStore.getState().table.length, flagged: (s.scan?.flagged ?? 0) + flagged.filter(Boolean).length, seconds: (performance.now() - started) / 1000 });
        saveSoon();
      };
      await runOnBackend(async (backend, retry) => {
        // After a backend fault only the images without a row yet are scored: finished rows stay.
        const slots = retry || resuming ? unscoredSlots(dataset) : null;
        if (slots?.length === 0) return;
        if (retry) noteResumed(`The scan continues with image ${useScanStore.getState().table.length + 1} of ${total}; finished rows are kept.`);
        return scoreSlots(backend, dataset, slots, contentScaleOf(cal), scanSignal, onProgress);
      });
    }
    await applyVerdict(targets, cal, scanSignal);
    await pendingSave;
    await saveTable();
    patchScan({ status: 'done', seconds: (performance.now() - started) / 1000, savedRows: useScanStore.getState().table.length });
  } catch (err) {
    patchScan(isCancelled(err) ? { status: 'cancelled', error: null } : { status: 'failed', error: errorText(err) });
  }
}

/**
 * Replaces the streamed per-image verdicts by the set-level one: decoder and collapse p-values
 * fused at the calibration's target FPR. When that cannot be computed (e.g. too few clean images),
 * the decoder verdict stays and the reason is kept for the UI. A cancelled verdict cancels the scan.
 */
async function applyVerdict(targets: readonly DatasetSummary[], cal: CalibrationState, signal: AbortSignal): Promise<void> {
  const { table, setTable, patchScan } = useScanStore.getState();
  const encoder = useEncoderStore.getState().encoder;
  const clean = cleanDataset();
  const targetFpr = cal.method.method === 'fpr' ? cal.method.target : 0.05;
  try {
    if (!encoder?.preprocessing || !clean) throw new Error('the encoder or the clean folder is missing');
    // The verdict reads the folders in order, each by slot: rows in that order.
    const order = Int32Array.from({ length: table.length }, (_, i) => i).sort((a, b) => table.folderIndex(a) - table.folderIndex(b) || table.slot(a) - table.slot(b));
    const sorted = table.permuted(order);
    const backend = await getBackend();
    const result = await workerJob(backend, signal, (jobId) => backend.api.verdict(jobId, {
      encoder: encoderFileRef(encoder),
      folders: targets.map(datasetRef),
      decoderScores: Array.from(sorted.column('decoderScore')),
      clean: datasetRef(clean),
      cleanDecoderScores: cal.cleanScores,
      preprocessing: encoder.preprocessing!,
      targetFpr,
    }));
    const fused = sorted.withVerdict({ score: result.score, pValue: result.fusedP, flagged: result.flagged, collapseScore: result.collapseScore, collapsePValue: result.collapsePValue });
    setTable(fused);
    let flagged = 0;
    for (let i = 0; i < fused.length; i++) if (fused.flagged(i)) flagged++;
    patchScan({
      // Rows are flagged when score > threshold; −log10(α) minus a hair makes that "fused p ≤ α".
      threshold: -Math.log10(targetFpr) - 1e-9,
      flagged,
      verdict: { kind: 'fused', targetFpr, k: result.k, referenceImages: result.cleanCollapseCount, weights: result.weights, gate: result.gate },
    });
  } catch (err) {
    if (isCancelled(err)) throw err;
    patchScan({ verdict: { kind: 'decoder', note: `The set-level verdict was not computed (${errorText(err)}); images are judged by the decoder score alone.` } });
  }
}

/** Cancels the scan in progress, if any, wherever it was started. */
export function cancelScan(): void {
  cancelAppJob('scan');
}

/** Brings the last scan's rows back after a reload: all of a finished scan, the saved part of an interrupted one. */
export async function restoreScanRows(): Promise<void> {
  const { scan, table, setTable, patchScan } = useScanStore.getState();
  if (!scan || table.length > 0) return;
  const bytes = await files.read(TABLE_PATH);
  const saved = bytes ? ScanTable.decode(bytes) : null;
  if (saved?.id !== scan.scanId) {
    // Interrupted before its first save: nothing of it is kept.
    if (scan.status !== 'done') patchScan({ done: 0, flagged: 0, savedRows: 0 });
    return;
  }
  setTable(saved);
  if (scan.status !== 'done') {
    let flagged = 0;
    for (let i = 0; i < saved.length; i++) if (saved.flagged(i)) flagged++;
    patchScan({ done: saved.length, flagged, savedRows: saved.length });
  }
}
