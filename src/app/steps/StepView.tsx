import { EncoderStep } from '../encoder/EncoderStep';
import { TrainStep } from '../train/TrainStep';
import { CalibrateStep } from '../scan/CalibrateStep';
import { ScanStep } from '../scan/ScanStep';
import { ImagesStep } from '../images/ImagesStep';
import { ReviewStep } from '../review/ReviewStep';
import { ReportStep } from '../report/ReportStep';
import { STEPS, useAppStore, type StepId } from '../store';

interface EmptyState {
  readonly title: string;
  readonly body: string;
  /** What must exist before this step can do anything, with the step that provides it. */
  readonly needs: readonly { readonly what: string; readonly step: StepId }[];
}

// Honest empty states: what the step is for and what it is waiting for, with no fake controls.
const EMPTY: Record<StepId, EmptyState> = {
  encoder: {
    title: 'No encoder loaded',
    body: 'The encoder is the self-supervised image model under suspicion, as an ONNX file: it takes normalised pixels [N, 3, H, W] and gives one embedding per image (an output [N, D], or a feature map or token sequence pooled to one). It is only ever called, never changed.',
    needs: [],
  },
  images: {
    title: 'No image folders yet',
    body: 'Detection needs a clean reference folder (to train the decoder and calibrate the threshold) and a suspect folder to scan. A folder of known-poisoned images is optional and only used to measure detection quality.',
    needs: [],
  },
  train: {
    title: 'Nothing to train yet',
    body: 'A small masked-autoencoder decoder learns to rebuild clean images from the encoder’s embedding. Training runs in a background worker on WebGPU or WASM.',
    needs: [
      { what: 'an encoder', step: 'encoder' },
      { what: 'a clean reference folder', step: 'images' },
    ],
  },
  calibrate: {
    title: 'No scores to calibrate',
    body: 'Held-back clean images are scored to set the flagging threshold, either as mean + k·σ or by a target false-positive rate.',
    needs: [{ what: 'a trained decoder', step: 'train' }],
  },
  scan: {
    title: 'Nothing to scan yet',
    body: 'Every image in the suspect folder is scored; images above the threshold are flagged.',
    needs: [
      { what: 'a calibrated threshold', step: 'calibrate' },
      { what: 'a suspect folder', step: 'images' },
    ],
  },
  review: {
    title: 'No results to review',
    body: 'Scanned images appear here sorted by score, with reconstructions and per-pixel error heatmaps.',
    needs: [{ what: 'a finished scan', step: 'scan' }],
  },
  report: {
    title: 'No results to report',
    body: 'Flagged-sample reports export as CSV, JSON and a self-contained HTML file, plus a cleaned file list.',
    needs: [{ what: 'a finished scan', step: 'scan' }],
  },
};

export function StepView({ step }: { step: StepId }) {
  const empty = EMPTY[step];
  const label = STEPS.find((s) => s.id === step)?.label ?? step;
  const body = step === 'encoder' ? <EncoderStep /> : step === 'images' ? <ImagesStep /> : step === 'train' ? <TrainStep /> : step === 'calibrate' ? <CalibrateStep /> : step === 'scan' ? <ScanStep /> : step === 'review' ? <ReviewStep fallback={<EmptyStateView empty={empty} />} /> : step === 'report' ? <ReportStep fallback={<EmptyStateView empty={empty} />} /> : null;
  return (
    <section aria-labelledby="step-title" data-testid={`step-${step}`}>
      <h2 id="step-title" className="step-title">{label}</h2>
      {body ?? <EmptyStateView empty={empty} />}
    </section>
  );
}

function EmptyStateView({ empty }: { empty: EmptyState }) {
  const setStep = useAppStore((s) => s.setStep);
  return (
      <div className="empty-state">
        <h3>{empty.title}</h3>
        <p>{empty.body}</p>
        {empty.needs.length > 0 && (
          <>
            <p className="needs-title">This step needs:</p>
            <ul className="needs">
              {empty.needs.map((n) => (
                <li key={n.what}>
                  <span className="needs-missing" aria-hidden="true">○</span> {n.what} —{' '}
                  <button type="button" className="link" onClick={() => setStep(n.step)}>
                    go to {STEPS.find((s) => s.id === n.step)?.label}
                  </button>
                </li>
              ))}
            </ul>
          </>
        )}
      </div>
  );
}
