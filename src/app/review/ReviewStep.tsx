// Review: scanned images by score in a virtualised gallery, a draggable review threshold that
// re-flags rows live, filters, a detail view with reconstructions and error heatmaps, keyboard
// triage (j/k/f/c/?), ROC/AUROC when labels are known, and the trigger map.
import { Fragment, useCallback, useId, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { useEncoderStore } from '../encoder/encoder-store';
import { useImagesStore } from '../images/images-store';
import { useScanRows, useScanStore, type Tag } from '../scan/scan-store';
import { useAppStore } from '../store';
import { useTrainStore } from '../train/train-store';
import { DetailDialog } from './DetailDialog';
import { Gallery } from './Gallery';
import { countFlagged, filterRows, keyOf, NO_FILTERS, SORT_LABEL, sortRows, type SortKey, type TagFilter } from './review-model';
import { effectiveThreshold, useReviewStore } from './review-store';
import { RocCard } from './RocCard';
import { ThresholdHistogram, type ThresholdSeries } from './ThresholdHistogram';
import { ClustersCard } from './ClustersCard';
import { TriggerMapCard } from './TriggerMapCard';

const KEYS: readonly [string, string][] = [
  ['j / k', 'next / previous image'],
  ['Enter', 'open the selected image'],
  ['f', 'tag as poisoned (again to clear)'],
  ['c', 'tag as clean (again to clear)'],
  ['← → ↑ ↓', 'move in the gallery'],
  ['?', 'show this help'],
  ['Escape', 'close the dialog'],
];

function isTyping(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target instanceof HTMLInputElement) return !['range', 'checkbox', 'radio', 'button', 'submit', 'reset'].includes(target.type);
  return target.isContentEditable || ['SELECT', 'TEXTAREA'].includes(target.tagName);
}

export function ReviewStep({ fallback }: { fallback: ReactNode }) {
  const scan = useScanStore((s) => s.scan);
  const rows = useScanRows();
  const tags = useScanStore((s) => s.tags);
  const setTag = useScanStore((s) => s.setTag);
  const calibration = useScanStore((s) => s.calibration);
  const review = useReviewStore();
  const datasets = useImagesStore((s) => s.datasets);
  const encoder = useEncoderStore((s) => s.encoder);
  const run = useTrainStore((s) => s.run);
  const setStep = useAppStore((s) => s.setStep);
  const [activeKey, setActiveKey] = useState<string | null>(null);
  const [detailOpen, setDetailOpen] = useState(false);
  const [helpOpen, setHelpOpen] = useState(false);
  const galleryWrap = useRef<HTMLDivElement>(null);

  const threshold = effectiveThreshold(scan, review.threshold) ?? 0;
  const calibrated = scan?.threshold ?? 0;
  const sorted = useMemo(() => sortRows(rows, review.sort), [rows, review.sort]);
  const visible = useMemo(() => filterRows(sorted, review.filters, threshold, tags), [sorted, review.filters, threshold, tags]);
  const flagged = useMemo(() => countFlagged(rows, threshold), [rows, threshold]);
  const cleanFpr = useMemo(() => (calibration && scan?.verdict?.kind !== 'fused' ? countFlagged(calibration.cleanScores.map((score) => ({ score })), threshold) / Math.max(1, calibration.cleanScores.length) : null), [calibration, threshold]);
  const folders = useMemo(() => [...new Map(rows.map((r) => [r.datasetId, { id: r.datasetId, name: r.datasetName, role: r.role }])).values()], [rows]);
  const series = useMemo<ThresholdSeries[]>(() => {
    const out: ThresholdSeries[] = [];
    const suspect = rows.filter((r) => r.role !== 'poisoned').map((r) => r.score);
    const poisoned = rows.filter((r) => r.role === 'poisoned').map((r) => r.score);
    if (suspect.length) out.push({ label: `suspect (${suspect.length})`, values: suspect, className: 'bar-suspect' });
    if (poisoned.length) out.push({ label: `known poisoned (${poisoned.length})`, values: poisoned, className: 'bar-poisoned' });
    // Clean calibration scores share the decoder score's scale, not the fused verdict's.
    if (calibration && scan?.verdict?.kind !== 'fused') out.push({ label: `clean calibration (${calibration.cleanScores.length})`, values: calibration.cleanScores, className: 'bar-clean' });
    return out;
  }, [rows, calibration]);

  const activeIndex = useMemo(() => {
    if (visible.length === 0) return -1;
    const i = activeKey === null ? -1 : visible.findIndex((r) => keyOf(r) === activeKey);
    return i;
  }, [visible, activeKey]);
  const active = activeIndex >= 0 ? visible[activeIndex]! : null;

  const activate = useCallback((index: number) => {
    const r = visible[Math.max(0, Math.min(visible.length - 1, index))];
    if (r) setActiveKey(keyOf(r));
  }, [visible]);
  const move = useCallback((delta: number) => activate(activeIndex < 0 ? 0 : activeIndex + delta), [activate, activeIndex]);
  const toggleTag = useCallback((tag: Tag) => {
    if (!active) return;
    const k = keyOf(active);
    setTag(k, tags[k] === tag ? null : tag);
  }, [active, setTag, tags]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.altKey || e.ctrlKey || e.metaKey || isTyping(e.target) || helpOpen) return;
      if (e.key === 'j') move(1);
      else if (e.key === 'k') move(-1);
      else if (e.key === 'f') toggleTag('poisoned');
      else if (e.key === 'c') toggleTag('clean');
      else if (e.key === '?') setHelpOpen(true);
      else return;
      e.preventDefault();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [move, toggleTag, helpOpen]);

  if (!scan || rows.length === 0) return <>{fallback}</>;
  const f = review.filters;
  const moved = threshold !== calibrated;
  const setThreshold = (v: number | null) => review.setThreshold(scan.scanId, v);
  return (
    <div className="stack review">
      <p className="lead">
        Every scanned image, highest score first. Drag the threshold to see what would be flagged; tag images as you review them (press <kbd>?</kbd> for keys).
        The threshold here applies to Review and the reports; the calibrated τ stays as it was.
      </p>
      {scan.status === 'scanning' && <p className="notice" role="status">The scan is still running: {scan.done} of {scan.total} images so far.</p>}
      <section className="card" aria-labelledby="review-threshold-title">
        <div className="card-head">
          <h3 id="review-threshold-title">Scores and threshold</h3>
          <button type="button" className="button ghost small" disabled={!moved} onClick={() => setThreshold(null)}>Reset to calibrated τ ({calibrated.toPrecision(4)})</button>
        </div>
        <div className="metric-row" aria-live="polite">
          <div className="metric"><strong data-testid="review-flagged">{flagged.toLocaleString('en')}</strong><span>flagged of {rows.length.toLocaleString('en')} ({((flagged / rows.length) * 100).toFixed(1)}%)</span></div>
          <div className="metric"><strong data-testid="review-threshold" data-value={threshold}>{threshold.toPrecision(4)}</strong><span>{moved ? `review τ (calibrated ${calibrated.toPrecision(4)})` : 'τ (calibrated)'}</span></div>
          {cleanFpr !== null && <div className="metric"><strong>{(cleanFpr * 100).toFixed(1)}%</strong><span>of clean calibration scores above τ</span></div>}
          <div className="metric"><strong data-testid="review-tagged">{Object.keys(tags).length}</strong><span>tagged</span></div>
        </div>
        <ThresholdHistogram series={series} threshold={threshold} calibrated={calibrated} onChange={setThreshold} label={`Score histogram with review threshold ${threshold.toPrecision(4)}`} />
      </section>

      <section className="card" aria-labelledby="review-gallery-title">
        <div className="card-head">
          <h3 id="review-gallery-title">Images</h3>
          <span className="muted" role="status" data-testid="review-count">{visible.length.toLocaleString('en')} shown</span>
        </div>
        <div className="filters" role="group" aria-label="Sort and filter">
          <Field label="Sort">{(id) => (
            <select id={id} className="select" value={review.sort} onChange={(e) => review.setSort(e.target.value as SortKey)}>
              {(Object.keys(SORT_LABEL) as SortKey[]).map((k) => <option key={k} value={k}>{SORT_LABEL[k]}</option>)}
            </select>
          )}</Field>
          <label className="checkbox"><input type="checkbox" checked={f.flaggedOnly} onChange={(e) => review.setFilters({ flaggedOnly: e.target.checked })} /> Flagged only</label>
          <Field label="Folder">{(id) => (
            <select id={id} className="select" value={f.folder ?? ''} onChange={(e) => review.setFilters({ folder: e.target.value || null })}>
              <option value="">All folders</option>
              {folders.map((d) => <option key={d.id} value={d.id}>{d.name} ({d.role})</option>)}
            </select>
          )}</Field>
          <Field label="Tag">{(id) => (
            <select id={id} className="select" value={f.tag} onChange={(e) => review.setFilters({ tag: e.target.value as TagFilter })}>
              <option value="any">Any</option><option value="poisoned">Poisoned</option><option value="clean">Clean</option><option value="untagged">Untagged</option>
            </select>
          )}</Field>
          <Field label="Min score">{(id) => (
            <input id={id} className="text-input small-input" type="number" step="any" value={f.minScore ?? ''} onChange={(e) => review.setFilters({ minScore: e.target.value === '' ? null : Number(e.target.value) })} />
          )}</Field>
          <Field label="Max score">{(id) => (
            <input id={id} className="text-input small-input" type="number" step="any" value={f.maxScore ?? ''} onChange={(e) => review.setFilters({ maxScore: e.target.value === '' ? null : Number(e.target.value) })} />
          )}</Field>
          <button type="button" className="button ghost small" disabled={JSON.stringify(f) === JSON.stringify(NO_FILTERS)} onClick={review.resetFilters}>Clear filters</button>
          <button type="button" className="button ghost small" onClick={() => setHelpOpen(true)} aria-keyshortcuts="?">Keyboard help</button>
        </div>
        <div ref={galleryWrap}>
          {visible.length === 0 ? <p className="muted">No image matches these filters.</p> : (
            <Gallery
              rows={visible} threshold={threshold} tags={tags} active={activeIndex}
              onActivate={activate} onOpen={(i) => { activate(i); setDetailOpen(true); }}
              label={`Scanned images, ${SORT_LABEL[review.sort].toLowerCase()}`}
            />
          )}
        </div>
      </section>

      <div className="columns">
        <RocCard rows={rows} tags={tags} threshold={threshold} />
        <TriggerMapCard scanId={scan.scanId} rows={rows} threshold={threshold} />
        <ClustersCard scan={scan} rows={rows} />
      </div>
      <div className="row">
        <button type="button" className="button" onClick={() => setStep('report')}>Next: report</button>
      </div>

      {detailOpen && active && (
        <DetailDialog
          key="detail" row={active} position={activeIndex} total={visible.length} flagged={active.score > threshold} tag={tags[keyOf(active)]}
          threshold={threshold} opacity={review.opacity} onOpacity={review.setOpacity}
          onTag={(t) => setTag(keyOf(active), t)} onMove={move}
          onClose={() => { setDetailOpen(false); galleryWrap.current?.querySelector<HTMLElement>('[role="listbox"]')?.focus(); }}
          preprocessing={encoder?.preprocessing ?? null} cfg={run?.plan.cfg ?? null} decoderPath={run?.decoderPath ?? null}
        />
      )}
      {helpOpen && <HelpDialog onClose={() => setHelpOpen(false)} />}
      {datasets.length === 0 && <p className="notice">The image folders were removed; thumbnails and details need them.</p>}
    </div>
  );
}

function HelpDialog({ onClose }: { onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
  }, []);
  return (
    <dialog ref={ref} className="dialog" aria-labelledby="help-title" onClose={onClose} data-testid="review-help">
      <h2 id="help-title">Review keys</h2>
      <dl className="facts">
        {KEYS.map(([k, v]) => <Fragment key={k}><dt><kbd>{k}</kbd></dt><dd>{v}</dd></Fragment>)}
      </dl>
      <div className="dialog-actions">
        <button type="button" className="button" autoFocus onClick={() => ref.current?.close()}>Close</button>
      </div>
    </dialog>
  );
}

function Field({ label, children }: { label: string; children: (id: string) => ReactNode }) {
  const id = useId();
  return (
    <div className="form-field">
      <label htmlFor={id}>{label}</label>
      {children(id)}
    </div>
  );
}
