import { useRef, useState } from 'react';
import { errorText } from '../../core/runtime/error-text';
import { useAppStore } from '../store';
import { DEMO_STAGES, runDemo, type DemoStage } from './demo-service';

/** One click to see DeDe work: bundled backdoored encoder and real images, whole workflow. */
export function DemoCard() {
  const [stage, setStage] = useState<DemoStage | null>(null);
  const [error, setError] = useState<string | null>(null);
  const controller = useRef<AbortController | null>(null);
  const setStep = useAppStore((s) => s.setStep);
  const running = stage !== null && stage !== 'done' && error === null;
  const start = () => {
    const c = new AbortController();
    controller.current = c;
    setError(null);
    runDemo(setStage, c.signal).then(
      () => setStep('review'),
      (err: unknown) => setError(errorText(err)),
    );
  };
  const current = DEMO_STAGES.findIndex((s) => s.id === stage);
  return (
    <section className="card demo" aria-labelledby="demo-title" data-testid="demo" data-stage={stage ?? 'idle'}>
      <h3 id="demo-title">New here? Run the demo</h3>
      <p>
        A CIFAR-10 encoder with a real BadEncoder backdoor (a white square trigger) and 420 real photos: 200 clean, 200 suspect (40 of them triggered) and 20 in a known-poisoned folder. The demo trains a
        decoder in this browser (about two minutes), calibrates, scans, and opens the review. Everything stays on this computer.
      </p>
      {stage !== null && (
        <ol className="demo-stages" aria-label="Demo progress">
          {DEMO_STAGES.map((s, i) => (
            <li key={s.id} className={stage === 'done' || i < current ? 'done' : i === current ? (error ? 'failed' : 'active') : ''} aria-current={i === current ? 'step' : undefined}>
              {s.label}
            </li>
          ))}
        </ol>
      )}
      {error && <p className="error" role="alert">The demo stopped: {error}</p>}
      <div className="row">
        <button type="button" className="button" disabled={running} onClick={start}>
          {stage === null ? 'Run the demo' : running ? 'Running…' : 'Run the demo again'}
        </button>
        {running && (
          <button type="button" className="button ghost" onClick={() => controller.current?.abort()}>
            Stop
          </button>
        )}
      </div>
    </section>
  );
}
