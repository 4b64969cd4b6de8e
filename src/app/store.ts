// App state. Settings persist across reloads; the live backend handle lives outside the store
// (it is not serialisable) and the store only mirrors its status.
import { create } from 'zustand';
import { persist } from 'zustand/middleware';
import type { EpPreference } from '../core/runtime/ep-choice';
import type { BackendInfo } from '../../workers/model-api';

export const STEPS = [
  { id: 'encoder', label: 'Encoder' },
  { id: 'images', label: 'Images' },
  { id: 'train', label: 'Train' },
  { id: 'calibrate', label: 'Calibrate' },
  { id: 'scan', label: 'Scan' },
  { id: 'review', label: 'Review' },
  { id: 'report', label: 'Report' },
] as const;

export type StepId = (typeof STEPS)[number]['id'];
export type ThemeChoice = 'system' | 'light' | 'dark';

export type BackendStatus =
  | { readonly state: 'starting'; readonly preference: EpPreference }
  | { readonly state: 'ready'; readonly info: BackendInfo; readonly fallbackReason: string | null; readonly notice: string | null }
  | { readonly state: 'failed'; readonly error: string };

interface AppState {
  step: StepId;
  theme: ThemeChoice;
  epPreference: EpPreference;
  backend: BackendStatus;
  setStep(step: StepId): void;
  setTheme(theme: ThemeChoice): void;
  setEpPreference(preference: EpPreference): void;
  setBackend(status: BackendStatus): void;
}

export const useAppStore = create<AppState>()(
  persist(
    (set) => ({
      step: 'encoder',
      theme: 'system',
      epPreference: 'auto',
      backend: { state: 'starting', preference: 'auto' },
      setStep: (step) => set({ step }),
      setTheme: (theme) => set({ theme }),
      setEpPreference: (epPreference) => set({ epPreference }),
      setBackend: (backend) => set({ backend }),
    }),
    {
      name: 'dede-web/settings',
      version: 1,
      partialize: (s) => ({ step: s.step, theme: s.theme, epPreference: s.epPreference }),
    },
  ),
);
