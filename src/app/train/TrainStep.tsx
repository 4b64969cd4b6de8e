import { useMutation } from '@tanstack/react-query';
import { useId, useRef, type ReactNode } from 'react';
import { countParams, initDecoderWeights } from '../../core/dede/init';
import { LossChart } from '../shell/LossChart';
import { formatDuration } from '../shell/ProgressBar';
import { useAppStore } from '../store';
import { useEncoderStore } from '../encoder/encoder-store';
import { useImagesStore } from '../images/images-store';
import { discardRun, exportDecoderFile, importDecoderFile, pauseTraining, planFor, readiness, resumeTraining, startTraining } from './train-service';
import { DECODER_SIZES, decoderSizeFor, patchSizeFor, patchSizesFor } from '../../core/dede/decoder-size';
import { prefetchText, useTrainStore, type TrainRun, type TrainSettings } from './train-store';
import { convergenceStatus, convergenceText, DEFAULT_CONVERGENCE, HELD_BACK_SAMPLE } from '../../core/dede/convergence';
import { describeCollapseGate } from '../../core/dede/set-scan';

const STATUS_LABEL = {
  embedding: 'Computing embeddings',
  training: 'Training',
  paused: 'Paused',
  interrupted: 'Interrupted (page reloaded)',
  done: 'Trained',
  failed: 'Failed',
} as const;

export function TrainStep() {
  // Re-render when what training depends on changes.
  useEncoderStore((s) => s.encoder);
  useEncoderStore((s) => s.testRun);
  useImagesStore((s) => s.datasets);
  const run = useTrainStore((s) => s.run);
  const ready = readiness();
  const active = run?.status === 'embedding' || run?.status === 'training';
  return (
    <div className="stack">
      <p className="lead">
        A small masked-autoencoder decoder learns to rebuild clean images from the encoder’s embedding. It trains in a background worker
        on the backend shown in the header; the page stays responsive, and a reload resumes from the last checkpoint.
      </p>
      {ready.problems.length > 0 && !run && <Requirements problems={ready.problems} />}
      {run && <RunCard />}
      {!active && <SettingsCard disabled={ready.problems.length > 0} hasRun={run !== null} />}
      <ImportExport />
    </div>
  );
}

function Requirements({ problems }: { problems: readonly string[] }) {
  const setStep = useAppStore((s) => s.setStep);
  return (
    <section className="card" aria-labelledby="train-needs">
      <h3 id="train-needs">Before training</h3>
      <ul className="needs">
        {problems.map((p) => (
          <li key={p}>
            <span className="needs-missing" aria-hidden="true">○</span> {p}
          </li>
        ))}
      </ul>
      <div className="row">
        <button type="button" className="button ghost" onClick={() => setStep('encoder')}>Go to Encoder</button>
        <button type="button" className="button ghost" onClick={() => setStep('images')}>Go to Images</button>
      </div>
    </section>
  );
}

function NumberField({ label, value, onChange, step, min, max, hint }: { label: string; value: number; onChange: (v: number) => void; step?: number; min?: number; max?: number; hint?: ReactNode }) {
  const id = useId();
  return (
    <div className="form-field">
      <label htmlFor={id}>{label}</label>
      <input id={id} type="number" className="text-input" value={value} step={step} min={min} max={max} onChange={(e) => e.target.value !== '' && onChange(Number(e.target.value))} />
      {hint && <span className="hint">{hint}</span>}
    </div>
  );
}

function SettingsCard({ disabled, hasRun }: { disabled: boolean; hasRun: boolean }) {
  const settings = useTrainStore((s) => s.settings);
  const setSettings = useTrainStore((s) => s.setSettings);
  const ready = readiness();
  const start = useMutation({ mutationFn: startTraining });
  const set = <K extends keyof TrainSettings>(key: K) => (value: TrainSettings[K]) => setSettings({ [key]: value } as Partial<TrainSettings>);
  const workingSize = ready.dataset?.layout.size ?? 32;
  const decoderSize = decoderSizeFor(workingSize, settings.decoderSize);
  const size = decoderSize.size;
  const trainCount = ready.dataset ? Math.round(ready.dataset.counts.images * (1 - settings.holdOut)) : 0;
  let paramNote = '';
  if (ready.embedDim) {
    try {
      const plan = planFor(settings, workingSize, ready.embedDim, Math.max(1, trainCount));
      paramNote = `${countParams(initDecoderWeights(plan.cfg, 0)).toLocaleString()} parameters · ${plan.cfg.imageSize}×${plan.cfg.imageSize} images, patch ${plan.cfg.patchSize}`;
    } catch {
      paramNote = '';
    }
  }
  return (
    <section className="card" aria-labelledby="train-settings">
      <h3 id="train-settings">Training settings</h3>
      <div className="form-grid">
        <NumberField label="Epochs" value={settings.epochs} min={1} onChange={set('epochs')} />
        <NumberField label="Time limit (minutes)" value={settings.minutes} min={0.1} step={0.5} onChange={set('minutes')} hint="Training stops at whichever limit comes first." />
      </div>
      <div className="check">
        <label>
          <input type="checkbox" checked={settings.stopWhenConverged} onChange={(e) => setSettings({ stopWhenConverged: e.target.checked })} aria-describedby="converge-hint" />
          Stop when converged
        </label>
        <span className="hint" id="converge-hint">
          {' '}After each epoch the decoder scores up to {HELD_BACK_SAMPLE} held-back images; training stops once their loss and its 95th percentile
          improve less than {(DEFAULT_CONVERGENCE.tolerance * 100).toFixed(0)}% from one {DEFAULT_CONVERGENCE.window}-epoch window to the next (never before
          epoch {DEFAULT_CONVERGENCE.minEpochs}; the epoch budget stays the ceiling). Untick it to train the whole budget when single photos must be judged
          on their own: an evasive backdoor's per-image score can still gain a little after the loss flattens.
        </span>
      </div>
      <details className="advanced">
        <summary>Advanced</summary>
        <div className="form-grid">
          <div className="form-field">
            <label htmlFor="preset">Decoder size</label>
            <select id="preset" value={settings.preset} onChange={(e) => setSettings({ preset: e.target.value === 'full' ? 'full' : 'small' })}>
              <option value="small">Small (laptop default: more epochs in the same time)</option>
              <option value="full">Full (the paper’s: 12 + 4 blocks, dim 192)</option>
            </select>
          </div>
          <div className="form-field">
            <label htmlFor="decoder-size">Decoder image size</label>
            {workingSize > DECODER_SIZES[0] ? (
              <select id="decoder-size" value={settings.decoderSize ?? ''} onChange={(e) => setSettings({ decoderSize: e.target.value === '' ? null : Number(e.target.value), patchSize: null })}>
                <option value="">Automatic ({decoderSizeFor(workingSize, null).size}×{decoderSizeFor(workingSize, null).size})</option>
                {DECODER_SIZES.filter((d) => d <= workingSize).map((d) => (
                  <option key={d} value={d}>{d}×{d}</option>
                ))}
              </select>
            ) : (
              <strong id="decoder-size">{size}×{size}</strong>
            )}
            <span className="hint" data-testid="decoder-size-reason">Images are stored at {workingSize}×{workingSize} (the encoder’s input). {decoderSize.reason}</span>
          </div>
          <div className="form-field">
            <label htmlFor="patch">Patch size</label>
            <select id="patch" value={settings.patchSize ?? ''} onChange={(e) => setSettings({ patchSize: e.target.value === '' ? null : Number(e.target.value) })}>
              <option value="">Automatic ({patchSizeFor(size)} px)</option>
              {patchSizesFor(size).map((p) => (
                <option key={p} value={p}>{p} px ({(size / p) ** 2} patches)</option>
              ))}
            </select>
          </div>
          <NumberField label="Batch size" value={settings.batchSize} min={1} onChange={set('batchSize')} />
          <NumberField label="Mask ratio" value={settings.maskRatio} min={0.05} max={0.98} step={0.05} onChange={set('maskRatio')} hint="Training masks 90% of patches; scoring uses 99%." />
          <NumberField label="Blind share" value={settings.blindShare} min={0} max={1} step={0.05} onChange={set('blindShare')} hint="Share of each batch trained with no visible patch, as images are scored and targets revealed. 0 is the paper’s recipe." />
          <NumberField label="Learning rate" value={settings.lr} min={0} step={0.0001} onChange={set('lr')} />
          <NumberField label="Seed" value={settings.seed} step={1} onChange={set('seed')} />
          <NumberField label="Held back for calibration (%)" value={Math.round(settings.holdOut * 100)} min={5} max={80} onChange={(v) => setSettings({ holdOut: v / 100 })} />
        </div>
      </details>
      <p className="hint">
        {ready.dataset ? `${trainCount} of ${ready.dataset.counts.images} images in “${ready.dataset.name}” train the decoder; the rest calibrate the threshold. ` : ''}
        {paramNote}
      </p>
      <div className="row">
        <button type="button" className="button" disabled={disabled || start.isPending} onClick={() => start.mutate()}>
          {hasRun ? 'Start a new training run' : 'Start training'}
        </button>
        {start.error && <span className="error" role="alert">{start.error.message}</span>}
      </div>
    </section>
  );
}

/** Why a run stopped (or that it is paused), in words; null while it runs or before it started. */
function stopReason(run: TrainRun): string | null {
  if (run.status === 'paused') return 'Paused: Resume continues from the last checkpoint.';
  if (run.status !== 'done') return null;
  const moving = run.plan.convergence ? '; the held-back loss was still moving' : '';
  switch (run.stoppedBy) {
    case 'converged':
      return `Stopped: ${convergenceText(run.convergedAt ?? 0, run.plan.convergence ?? DEFAULT_CONVERGENCE)}.`;
    case 'epochs':
      return `Stopped: the epoch budget (${run.plan.epochs ?? '?'} epochs) was reached${moving}.`;
    case 'time':
      return `Stopped: the time limit (${run.plan.minutes ?? '?'} min) was reached${moving}.`;
    default:
      return null;
  }
}

function RunCard() {
  const run = useTrainStore((s) => s.run)!;
  const live = useTrainStore((s) => s.live);
  const prefetch = useTrainStore((s) => s.prefetch);
  const setStep = useAppStore((s) => s.setStep);
  const resume = useMutation({ mutationFn: resumeTraining });
  const discard = useMutation({ mutationFn: discardRun });
  const active = run.status === 'embedding' || run.status === 'training';
  const lastLoss = run.losses.at(-1)?.loss;
  const total = live?.total ?? null;
  const done = live?.done ?? run.step;
  return (
    <section className="card" aria-labelledby="run-title" data-testid="train-run" data-status={run.status}>
      <div className="card-head">
        <h3 id="run-title">{STATUS_LABEL[run.status]}{run.imported ? ' (imported decoder)' : ''}</h3>
        <div className="row" style={{ marginTop: 0 }}>
          {active && (
            <button type="button" className="button ghost" onClick={() => void pauseTraining()}>
              Pause
            </button>
          )}
          {(run.status === 'paused' || run.status === 'interrupted' || run.status === 'failed') && !run.imported && (
            <button type="button" className="button" disabled={resume.isPending} onClick={() => resume.mutate()}>
              Resume
            </button>
          )}
          {!active && (
            <button type="button" className="button ghost" disabled={discard.isPending} onClick={() => discard.mutate()}>
              Discard
            </button>
          )}
        </div>
      </div>
      {live && (
        <div className="progress" role="status" aria-live="polite">
          <progress max={total ?? undefined} value={total ? done : undefined} aria-label={live.phase === 'embed' ? 'Computing embeddings' : 'Training progress'} />
          <div className="progress-facts">
            <span>
              {live.phase === 'embed' ? `Embeddings ${done} of ${total ?? '?'} images` : `Step ${done}${total ? ` of ${total}` : ''}`}
              {total ? ` · ${Math.floor((done / total) * 100)}%` : ''}
            </span>
            <span>
              {live.stepsPerSecond !== null ? `${live.stepsPerSecond.toFixed(2)} steps/s · ` : ''}
              {live.imagesPerSecond !== null ? `${live.imagesPerSecond.toFixed(0)} images/s · ` : ''}
              {live.etaSeconds !== null ? `${live.phase === 'train' && run.plan.convergence ? 'at most ' : ''}${formatDuration(live.etaSeconds)} left` : ''}
            </span>
          </div>
        </div>
      )}
      <dl className="facts">
        <dt>Images</dt>
        <dd>{run.imported ? 'trained elsewhere' : `${run.trainSlots.length} from “${run.datasetName}” (${run.heldOutSlots.length} held back)`}</dd>
        <dt>Progress</dt>
        <dd data-testid="train-step">{run.step} steps{run.totalSteps ? ` of ${run.totalSteps}` : ''} · {formatDuration(run.elapsedSeconds)}{lastLoss !== undefined ? ` · loss ${lastLoss.toFixed(4)}` : ''}</dd>
        {prefetch && (
          <>
            <dt>Scan folders</dt>
            <dd data-testid="train-prefetch" data-finished={prefetch.finished} data-folders={prefetch.folders}>{prefetchText(prefetch)}</dd>
          </>
        )}
        {prefetch?.gate && (
          <>
            <dt>Set-level check</dt>
            <dd data-testid="train-early-gate" data-open={String(prefetch.gate.open)}>
              {describeCollapseGate(prefetch.gate, 'ahead')} <span className="hint">From the embeddings alone, before the decoder is done; the scan combines it with each image&apos;s decoder score.</span>
            </dd>
          </>
        )}
        {run.plan.convergence && !run.imported && (
          <>
            <dt>Convergence</dt>
            <dd data-testid="train-convergence">{convergenceStatus(run.heldBack, run.plan.convergence)}</dd>
          </>
        )}
        <dt>Decoder</dt>
        <dd>{run.plan.cfg.encDepth}+{run.plan.cfg.decDepth} blocks, dim {run.plan.cfg.decDim}, patch {run.plan.cfg.patchSize}, batch {run.plan.batchSize}, mask {run.plan.maskRatio}{run.plan.blindShare > 0 ? `, blind share ${run.plan.blindShare}` : ''}</dd>
      </dl>
      {!run.imported && (
        <div className="charts">
          <figure>
            <figcaption>Training loss, by step</figcaption>
            <LossChart points={run.losses} />
          </figure>
          <figure>
            <figcaption>Held-back loss (images not trained on), by epoch</figcaption>
            <LossChart points={run.heldBack.map((p) => ({ step: p.epoch, loss: p.loss }))} unit="epoch" name="Held-back loss" testId="held-back-chart" />
          </figure>
        </div>
      )}
      {!run.imported && stopReason(run) && <p className="notice" data-testid="train-stop-reason" data-stopped-by={run.stoppedBy ?? 'paused'}>{stopReason(run)}</p>}
      {run.error && <p className="error" role="alert">{run.error}</p>}
      {run.status === 'interrupted' && <p className="notice">The page was reloaded during training. Resume continues from the last saved checkpoint.</p>}
      {run.status === 'done' && (
        <div className="row">
          <button type="button" className="button" onClick={() => setStep('calibrate')}>Next: calibrate</button>
        </div>
      )}
    </section>
  );
}

function ImportExport() {
  const run = useTrainStore((s) => s.run);
  const input = useRef<HTMLInputElement>(null);
  const exp = useMutation({
    mutationFn: async () => {
      const { name, bytes } = await exportDecoderFile();
      const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = name;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    },
  });
  const imp = useMutation({ mutationFn: importDecoderFile });
  return (
    <section className="card" aria-labelledby="decoder-files">
      <h3 id="decoder-files">Decoder file</h3>
      <p className="hint">The trained decoder is a standard ONNX model (weights, config and training record inside) that other tools and the dede CLI can load.</p>
      <div className="row">
        <button type="button" className="button ghost" disabled={!run?.decoderPath || exp.isPending} onClick={() => exp.mutate()}>
          Export decoder (.onnx)
        </button>
        <button type="button" className="button ghost" onClick={() => input.current?.click()}>
          Import a decoder…
        </button>
        <input ref={input} type="file" accept=".onnx" hidden data-testid="decoder-import" onChange={(e) => e.target.files?.[0] && imp.mutate(e.target.files[0])} />
      </div>
      {exp.error && <p className="error" role="alert">{exp.error.message}</p>}
      {imp.error && <p className="error" role="alert">{imp.error.message}</p>}
      {imp.isSuccess && <p className="ok" role="status">Decoder imported.</p>}
    </section>
  );
}
