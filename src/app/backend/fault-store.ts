// Notices about faults the app recovered from (or could not): GPU lost, worker crashed, storage
// full. Not persisted: they describe this page's life, and a reload starts clean.
import { create } from 'zustand';

export interface FaultNotice {
  /** One notice per kind of fault: posting the same id again replaces its text. */
  readonly id: string;
  readonly level: 'warn' | 'error';
  readonly text: string;
  /** Offer a reload button (nothing else will help). */
  readonly reload?: boolean;
}

interface FaultState {
  notices: readonly FaultNotice[];
  post(notice: FaultNotice): void;
  dismiss(id: string): void;
}

export const useFaultStore = create<FaultState>()((set) => ({
  notices: [],
  post: (notice) => set((s) => ({ notices: [...s.notices.filter((n) => n.id !== notice.id), notice] })),
  dismiss: (id) => set((s) => ({ notices: s.notices.filter((n) => n.id !== id) })),
}));
