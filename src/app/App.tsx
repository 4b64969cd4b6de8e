import { useEffect } from 'react';
import { FaultNotices } from './shell/FaultNotices';
import { Header } from './shell/Header';
import { StepNav } from './shell/StepNav';
import { StepView } from './steps/StepView';
import { useAppStore } from './store';
import { useThemeEffect } from './shell/theme';

export function App() {
  useThemeEffect();
  const step = useAppStore((s) => s.step);
  useEffect(() => {
    document.title = `${step[0]!.toUpperCase()}${step.slice(1)} · DeDe Web`;
  }, [step]);
  return (
    <div className="app">
      <a className="skip-link" href="#main">Skip to content</a>
      <Header />
      <FaultNotices />
      <div className="layout">
        <StepNav />
        <main id="main" className="main" tabIndex={-1}>
          <StepView step={step} />
        </main>
      </div>
    </div>
  );
}
