import { STEPS, useAppStore } from '../store';

export function StepNav() {
  const step = useAppStore((s) => s.step);
  const setStep = useAppStore((s) => s.setStep);
  return (
    <nav className="steps" aria-label="Workflow steps">
      <ol>
        {STEPS.map((s, i) => (
          <li key={s.id}>
            <button
              type="button"
              className="step-link"
              aria-current={s.id === step ? 'step' : undefined}
              onClick={() => setStep(s.id)}
            >
              <span className="step-number" aria-hidden="true">{i + 1}</span>
              {s.label}
            </button>
          </li>
        ))}
      </ol>
    </nav>
  );
}
