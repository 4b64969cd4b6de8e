// One image in detail: original, what the decoder saw (masked input), reconstruction, and the
// per-pixel error as a colour-blind-safe heatmap over the image; tags and navigation.
import { useQuery } from '@tanstack/react-query';
import { useEffect, useMemo, useRef } from 'react';
import { numPatches, visibleCount, type DecoderConfig } from '../../core/dede/config';
import { sampleKeepIndices } from '../../core/dede/mask';
import { mulberry32 } from '../../core/dede/rng';
import { denormalizeToRgb, heatmapRgba, maxOf, planarSide, sumChannels, viridisGradient, COLORMAP_NAME } from '../../core/report/image-maps';
import type { Preprocessing } from '../../core/images/preprocess';
import { COMPONENT_NAMES, componentPValues, componentShares } from '../../core/report/scan-report';
import { contentWeights, EQUAL_WEIGHTS } from '../../core/dede/content-score';
import { useScanStore, type ScanRow, type Tag } from '../scan/scan-store';
import { PixelCanvas } from './PixelCanvas';
import { explainSlots, readOriginal } from './review-service';

export const SCORE_MASK_RATIO = 0.99;

export function DetailDialog({ row, position, total, flagged, tag, threshold, opacity, onOpacity, onTag, onMove, onClose, preprocessing, cfg, decoderPath }: {
  row: ScanRow;
  position: number;
  total: number;
  flagged: boolean;
  tag: Tag | undefined;
  threshold: number;
  opacity: number;
  onOpacity: (v: number) => void;
  onTag: (tag: Tag | null) => void;
  onMove: (delta: number) => void;
  onClose: () => void;
  preprocessing: Preprocessing | null;
  cfg: DecoderConfig | null;
  decoderPath: string | null;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
  }, []);
  const original = useQuery({
    queryKey: ['review-original', row.datasetId, row.slot],
    queryFn: () => readOriginal(row.datasetId, row.slot),
    staleTime: Infinity,
    gcTime: 30_000,
    retry: false,
  });
  const explanation = useQuery({
    queryKey: ['review-explain', decoderPath, row.datasetId, row.slot],
    // React Query aborts `signal` when the dialog closes first: the worker job stops.
    queryFn: async ({ signal }) => (await explainSlots(row.datasetId, [row.slot], signal))[0]!,
    staleTime: Infinity,
    gcTime: 30_000,
    retry: false,
  });
  const maps = useMemo(() => {
    const e = explanation.data;
    if (!e || !preprocessing) return null;
    const side = planarSide(e.input);
    const err = sumChannels(e.pixelError);
    const max = maxOf(err);
    const input = denormalizeToRgb(e.input, preprocessing);
    let masked: Uint8Array | null = null;
    let visible = 0;
    let patches = 0;
    if (cfg) {
      patches = numPatches(cfg);
      visible = visibleCount(cfg, SCORE_MASK_RATIO);
      masked = new Uint8Array(side * side * 3).fill(128);
      if (visible > 0) {
        // The same seeded mask the worker used for this image (see explainImages).
        const keep = sampleKeepIndices(1, patches, visible, mulberry32(row.slot));
        const grid = side / cfg.patchSize;
        for (const t of keep) {
          const py = Math.floor(t / grid) * cfg.patchSize;
          const px = (t % grid) * cfg.patchSize;
          for (let y = py; y < py + cfg.patchSize; y++) for (let x = px; x < px + cfg.patchSize; x++) for (let c = 0; c < 3; c++) masked[(y * side + x) * 3 + c] = input[(y * side + x) * 3 + c]!;
        }
      }
    }
    return { side, input, masked, visible, patches, recon: denormalizeToRgb(e.reconstruction, preprocessing), heat: heatmapRgba(err, max), max };
  }, [explanation.data, preprocessing, cfg, row.slot]);

  return (
    <dialog ref={ref} className="dialog detail-dialog" aria-labelledby="detail-title" onClose={onClose} data-testid="detail-dialog">
      <div className="detail-head">
        <h2 id="detail-title" className="detail-title">{row.path}</h2>
        <span className="muted">{position + 1} of {total}</span>
      </div>
      <div className="detail-images">
        <figure>
          {original.data ? <PixelCanvas rgb={original.data.rgb} size={original.data.size} label={`Original of ${row.path}`} testId="detail-original" /> : <div className="px-placeholder" />}
          <figcaption>Original ({original.data ? `${original.data.size}×${original.data.size}` : '…'})</figcaption>
        </figure>
        <figure>
          {maps?.masked ? (
            <div className="masked-wrap">
              <PixelCanvas rgb={maps.masked} size={maps.side} label={`Masked input: ${maps.visible} of ${maps.patches} patches visible`} testId="detail-masked" />
              {maps.visible === 0 && <span className="masked-note">fully masked</span>}
            </div>
          ) : <div className="px-placeholder" />}
          <figcaption>
            Masked input at {SCORE_MASK_RATIO}
            {maps?.masked ? `: ${maps.visible} of ${maps.patches} patches visible${maps.visible === 0 ? ' — the decoder sees only the embedding' : ''}` : ''}
          </figcaption>
        </figure>
        <figure>
          {maps ? <PixelCanvas rgb={maps.recon} size={maps.side} label={`Reconstruction of ${row.path}`} testId="detail-recon" /> : <div className="px-placeholder" />}
          <figcaption>Reconstruction</figcaption>
        </figure>
        <figure>
          {maps ? (
            <div className="overlay">
              <PixelCanvas rgb={maps.input} size={maps.side} label={`Error heatmap of ${row.path} over the image`} testId="detail-heat-base" />
              <div className="overlay-top" style={{ opacity }} aria-hidden="true"><PixelCanvas rgba={maps.heat} size={maps.side} label="" testId="detail-heatmap" /></div>
            </div>
          ) : <div className="px-placeholder" />}
          <figcaption>Per-pixel error</figcaption>
        </figure>
      </div>
      {explanation.isPending && <p role="status">Reconstructing in the worker…</p>}
      {explanation.error && <p className="error" role="alert">{explanation.error.message}</p>}
      {original.error && <p className="error" role="alert">{original.error.message}</p>}
      <div className="detail-controls">
        <label className="field-inline">
          Heatmap opacity
          <input type="range" min={0} max={1} step={0.05} value={opacity} onChange={(e) => onOpacity(Number(e.target.value))} />
          <span className="num">{Math.round(opacity * 100)}%</span>
        </label>
        {maps && (
          <span className="colorbar" aria-label={`${COLORMAP_NAME} colour map: 0 to ${maps.max.toPrecision(3)} squared error per pixel`} role="img">
            <span>0</span><span className="legend-bar" style={{ background: `linear-gradient(to right, ${viridisGradient()})` }} /><span>{maps.max.toPrecision(3)}</span>
          </span>
        )}
      </div>
      <dl className="facts detail-facts">
        <dt>Folder</dt><dd>{row.datasetName} ({row.role})</dd>
        <dt>Score</dt><dd data-testid="detail-score">{row.score.toPrecision(6)}</dd>
        <dt>DeDe score</dt><dd>{row.dedeScore.toPrecision(6)}</dd>
        <dt>p-value</dt><dd>{row.pValue.toPrecision(3)}</dd>
        {row.decoderScore !== undefined && row.decoderPValue !== undefined && (
          <>
            <dt>Decoder score</dt><dd data-testid="detail-decoder">{row.decoderScore.toPrecision(5)} (p = {row.decoderPValue.toPrecision(3)})</dd>
          </>
        )}
        <DecoderComponentList row={row} />
        {row.collapseScore !== undefined && row.collapsePValue !== undefined && (
          <>
            <dt>Collapse score</dt><dd data-testid="detail-collapse">{row.collapseScore.toPrecision(4)} (p = {row.collapsePValue.toPrecision(3)}): mean similarity to its 5 nearest scanned images</dd>
          </>
        )}
        <dt>Flagged</dt><dd data-testid="detail-flagged">{flagged ? `yes (score > τ = ${threshold.toPrecision(4)})` : `no (score ≤ τ = ${threshold.toPrecision(4)})`}</dd>
        <dt>Your tag</dt><dd data-testid="detail-tag">{tag ?? 'none'}</dd>
      </dl>
      <div className="row dialog-actions detail-actions">
        <button type="button" className="button ghost" onClick={() => onMove(-1)} disabled={position === 0}>Previous (k)</button>
        <button type="button" className="button ghost" onClick={() => onMove(1)} disabled={position >= total - 1}>Next (j)</button>
        <span className="spacer" />
        <button type="button" className="button ghost" aria-pressed={tag === 'poisoned'} onClick={() => onTag(tag === 'poisoned' ? null : 'poisoned')}>Poisoned (f)</button>
        <button type="button" className="button ghost" aria-pressed={tag === 'clean'} onClick={() => onTag(tag === 'clean' ? null : 'clean')}>Clean (c)</button>
        <button type="button" className="button" onClick={() => ref.current?.close()}>Close</button>
      </div>
    </dialog>
  );
}

/**
 * decoderScore's components (docs/ARCHITECTURE.md §5.3.1, §5.3.2): each z on the calibration's
 * clean scale with its p-value among the clean calibration images' z's and its share of the score,
 * then the median patch error.
 */
function DecoderComponentList({ row }: { row: ScanRow }) {
  const clean = useScanStore((s) => s.calibration?.cleanComponentZ);
  const scoreKind = useScanStore((s) => s.calibration?.calibration.scoreKind);
  const shares = componentShares(row, scoreKind?.kind === 'content' ? contentWeights(scoreKind.scale) : EQUAL_WEIGHTS);
  const p = clean ? componentPValues(row, clean) : null;
  const z = { semantic: row.semanticZ, lowPass: row.lowPassZ, flip: row.flipZ };
  return (
    <>
      {(Object.keys(COMPONENT_NAMES) as (keyof typeof COMPONENT_NAMES)[]).map((k) =>
        z[k] === undefined ? null : (
          <div key={k} className="facts-row" style={{ display: 'contents' }}>
            <dt>{`· ${COMPONENT_NAMES[k]}`}</dt>
            <dd data-testid={`detail-component-${k}`}>
              z = {z[k]!.toPrecision(3)}
              {p ? ` (p = ${p[k].toPrecision(3)})` : ''}
              {shares ? `, ${Math.round(shares[k] * 100)}% of the decoder score` : ''}
            </dd>
          </div>
        ),
      )}
      {row.medianPatchError !== undefined && (
        <>
          <dt>Median patch error</dt><dd data-testid="detail-median-patch">{row.medianPatchError.toPrecision(4)}</dd>
        </>
      )}
    </>
  );
}
