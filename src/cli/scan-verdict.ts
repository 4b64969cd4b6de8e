// The verdict of a scan over one set of scored images (a folder, or one shard of it) and the report
// head that goes with it: shared by `dede scan`, its shard parts and `dede merge`.
import { stat } from 'node:fs/promises';
import { isFlagged, pValues, type Calibration } from '../core/dede/calibrate';
import { rowCount, type Rows } from '../core/dede/collapse';
import { scoreFolderSet } from '../core/dede/set-scan';
import { readoutRecord } from '../core/onnx/readout';
import { decoderComponentsOf, decoderTrainingRecord, SCAN_REPORT_VERSION, type DecoderComponents, type ScanReport, type ScannedImage } from '../core/report/scan-report';
import { storedReference, type CalibrationFile } from './calibration-file';
import type { CliEncoder } from './encoder';
import { type DecoderScoring, embedFolder, type FolderScores } from './score-folder';
import type { ScoringInputs } from './scorer-options';
import { TOOL } from './tool';

/** Everything of a scan report but the images and the summary (shared with shard parts and merge). */
export function reportHead(inputs: ScoringInputs, calibrationFile: CalibrationFile, dim: number, verdict: Record<string, unknown>): Omit<ScanReport, 'images' | 'summary' | 'unreadable'> {
  const cal = calibrationFile.calibration;
  return {
    format: 'dede-scan-report',
    version: SCAN_REPORT_VERSION,
    createdAt: new Date().toISOString(),
    tool: TOOL,
    encoder: { name: inputs.encoder.path, sha256: inputs.encoder.sha256, readout: readoutRecord(inputs.encoder.readout, dim || inputs.encoder.readout.dim) },
    decoder: { name: inputs.decoder.path, sha256: inputs.decoder.sha256, training: decoderTrainingRecord(inputs.decoder.meta.training) },
    settings: { rounds: inputs.settings.rounds, aggregate: inputs.settings.aggregate, decoder: inputs.decoder.cfg, preprocessing: inputs.encoder.preprocessing, device: inputs.encoder.device, verdict },
    threshold: cal.threshold,
    calibration: { method: cal.method, scoreKind: cal.scoreKind, n: cal.n, mean: cal.mean, std: cal.std, heldOut: calibrationFile.heldOut },
  };
}

/** The collapse reference a scan compares with, or null for the decoder score alone. */
export interface CollapseReference {
  readonly embeddings: Rows;
  readonly fingerprints: Rows;
  readonly dir: string | undefined;
  readonly source: 'calibration' | 'folder';
}

export interface VerdictSettings {
  readonly cal: Calibration;
  readonly targetFpr: number;
  readonly k: number;
  readonly reference: CollapseReference | null;
}

export async function collapseReference(v: Record<string, string | boolean | undefined>, calibrationFile: CalibrationFile, encoder: CliEncoder): Promise<CollapseReference | null> {
  if (v['no-collapse']) return null;
  const given = v['reference'] as string | undefined;
  const stored = given === undefined ? storedReference(calibrationFile) : null;
  const referenceDir = given ?? calibrationFile.cleanImages;
  if (stored) {
    process.stderr.write(`collapse reference: the ${stored.images} clean images embedded by dede calibrate\n`);
    return { embeddings: stored.embeddings, fingerprints: stored.fingerprints, dir: referenceDir, source: 'calibration' };
  }
  if (!referenceDir || (await stat(referenceDir).catch(() => null))?.isDirectory() !== true) {
    process.stderr.write(`note: no clean reference folder at ${referenceDir || '(none)'}; judging by the decoder score alone (give --reference DIR for the set-level verdict)\n`);
    return null;
  }
  const embedded = await embedFolder(referenceDir, encoder, 'reference');
  return { embeddings: embedded.embeddings, fingerprints: embedded.fingerprints, dir: referenceDir, source: 'folder' };
}

/** How a scan scores to match its calibration: the content score on its scale, or (older files) the median patch error. */
export function decoderScoring(cal: Calibration): DecoderScoring {
  return cal.scoreKind.kind === 'content' ? cal.scoreKind.scale : 'patch';
}

/** Each image's decoderScore components for the report (the z's on the calibration's scale). */
export function decoderComponents(scored: Pick<FolderScores, 'medianErrors' | 'components'>, cal: Calibration): DecoderComponents[] {
  const scale = cal.scoreKind.kind === 'content' ? cal.scoreKind.scale : null;
  return Array.from(scored.medianErrors, (medianPatchError, i) => decoderComponentsOf(scored.components?.[i], scale, medianPatchError));
}

/** The verdict over one set of scored images: the decoder score alone, or fused with the collapse score. */
export function folderVerdict(
  scored: Pick<FolderScores, 'paths' | 'scores' | 'dedeScores' | 'embeddings' | 'fingerprints'> & { readonly components: readonly DecoderComponents[] },
  { cal, targetFpr, k, reference }: VerdictSettings,
): { images: ScannedImage[]; verdict: { kind: 'decoder' | 'fused' } & Record<string, unknown> } {
  if (!reference) {
    const decoderP = pValues(scored.scores, cal);
    return {
      images: scored.paths.map((path, i) => ({
        ...scored.components[i],
        path,
        score: scored.scores[i]!,
        dedeScore: scored.dedeScores[i]!,
        pValue: decoderP[i]!,
        flagged: isFlagged(scored.scores[i]!, cal),
        decoderScore: scored.scores[i]!,
        decoderPValue: decoderP[i]!,
      })),
      verdict: { kind: 'decoder', threshold: cal.threshold },
    };
  }
  const referenceImages = rowCount(reference.embeddings);
  const about = { targetFpr, referenceImages, reference: reference.dir, referenceSource: reference.source };
  // An empty folder (or shard) has no set to judge.
  if (scored.paths.length === 0) return { images: [], verdict: { kind: 'fused', ...about, gate: null, k } };
  const set = scoreFolderSet(
    {
      embeddings: scored.embeddings,
      fingerprints: scored.fingerprints,
      dedeScores: scored.scores,
      cleanRef: { embeddings: reference.embeddings, fingerprints: reference.fingerprints, dedeScores: cal.cleanScores },
    },
    { targetFpr, k },
  );
  const images = scored.paths.map((path, i) => {
    const r = set.images[i]!;
    return {
      ...scored.components[i],
      path,
      score: r.score,
      dedeScore: scored.dedeScores[i]!,
      pValue: r.fusedP,
      flagged: r.flagged,
      decoderScore: scored.scores[i]!,
      decoderPValue: r.dedePValue,
      collapseScore: r.collapseScore,
      collapsePValue: r.collapsePValue,
    };
  });
  const { targetFpr: _t, referenceImages: _r, ...where } = about;
  return { images, verdict: { kind: 'fused', targetFpr, fusion: set.fusion, weights: set.weights, gate: set.gate, k: set.k, referenceImages, ...where } };
}
