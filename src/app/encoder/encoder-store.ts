// The chosen encoder and the hub settings. The model bytes live in the Cache API; this store keeps
// what is needed to find them again after a reload, plus what inspection found.
import { create } from 'zustand';
import { persist } from 'zustand/middleware';
import { DEFAULT_HUB_ENDPOINT } from '../../core/hub/url';
import { checkImageEncoder, type ImageEncoderCheck } from '../../core/onnx/encoder-policy';
import type { ModelInfo } from '../../core/onnx/inspect';
import { chosenReadout, defaultReadout, type EmbeddingReadout, type ReadoutChoice } from '../../core/onnx/readout';
import type { Preprocessing } from '../../core/images/preprocess';

export interface EncoderRecord {
  /** Cache key of the model file. */
  readonly key: string;
  readonly name: string;
  readonly origin: 'hub' | 'url' | 'local';
  readonly sourceUrl: string | null;
  readonly repo: string | null;
  readonly revision: string | null;
  readonly commit: string | null;
  readonly size: number;
  readonly sha256: string;
  /** Cache keys of external data files, by the path the model references. */
  readonly externalData: readonly { readonly path: string; readonly key: string }[];
  readonly info: ModelInfo;
  readonly check: ImageEncoderCheck;
  /** Which output is the embedding, pooled how, why, and its size; null until the user chooses. */
  readonly readout: ReadoutChoice | null;
  /** When readout is null: why the user must choose (it names the candidate outputs). */
  readonly readoutQuestion: string | null;
  readonly preprocessing: Preprocessing | null;
  /** Why preprocessing is unknown, when it is. */
  readonly preprocessingNote: string | null;
  readonly notices: readonly string[];
  /** What the model's config.json says (model type, sizes), when there is one. */
  readonly modelConfig?: string | null;
  /**
   * Where preprocessor_config.json and config.json were found, in words (e.g. "preprocessor_config.json
   * at the repo root"); null when not found. Absent on records saved before configs were looked up.
   */
  readonly configFiles?: { readonly preprocessor: string | null; readonly model: string | null };
}

export interface TestRunResult {
  readonly ms: number;
  readonly batch: number;
  readonly outputDims: readonly number[];
  readonly ep: string;
}

interface EncoderState {
  encoder: EncoderRecord | null;
  testRun: TestRunResult | null;
  hubEndpoint: string;
  /** Kept in memory only, unless rememberToken. */
  token: string;
  rememberToken: boolean;
  setEncoder(encoder: EncoderRecord | null): void;
  /** The user's pick on the Encoder step; ignored when the model has no such output/pooling. */
  setReadout(readout: EmbeddingReadout): void;
  setTestRun(result: TestRunResult | null): void;
  setHubEndpoint(endpoint: string): void;
  setToken(token: string, remember: boolean): void;
}

export const useEncoderStore = create<EncoderState>()(
  persist(
    (set) => ({
      encoder: null,
      testRun: null,
      hubEndpoint: DEFAULT_HUB_ENDPOINT,
      token: '',
      rememberToken: false,
      setEncoder: (encoder) => set({ encoder, testRun: null }),
      setReadout: (readout) =>
        set((s) => {
          const choice = s.encoder?.check.ok ? chosenReadout(s.encoder.check.candidates, readout, READOUT_CHOSEN_BY_HAND) : null;
          return s.encoder && choice ? { encoder: { ...s.encoder, readout: choice, readoutQuestion: null }, testRun: null } : {};
        }),
      setTestRun: (testRun) => set({ testRun }),
      setHubEndpoint: (hubEndpoint) => set({ hubEndpoint }),
      setToken: (token, rememberToken) => set({ token, rememberToken }),
    }),
    {
      name: 'dede-web/encoder',
      version: 2,
      // Version 1 saved the check before readouts existed (one [N, D] output, `embeddingOutput`).
      migrate: (persisted, version) => {
        const state = (persisted ?? {}) as Record<string, unknown>;
        return version < 2 ? { ...state, encoder: upgradeEncoderRecord(state['encoder']) } : state;
      },
      partialize: (s) => ({
        encoder: s.encoder,
        hubEndpoint: s.hubEndpoint,
        rememberToken: s.rememberToken,
        ...(s.rememberToken ? { token: s.token } : {}),
      }),
    },
  ),
);

export const READOUT_CHOSEN_BY_HAND = 'chosen on the Encoder step.';

/**
 * A record saved by an older version, brought up to date from its ModelInfo (always saved): the
 * check is redone, and the output it used stays the embedding when it still reads as one.
 */
export function upgradeEncoderRecord(raw: unknown): EncoderRecord | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const old = raw as EncoderRecord & { embeddingOutput?: string | null; check: { ok: boolean; output?: string } };
  if (!old.info || !Array.isArray(old.info.outputs) || !Array.isArray(old.info.inputs)) return null;
  const check = checkImageEncoder(old.info);
  let readout: ReadoutChoice | null = null;
  let readoutQuestion: string | null = null;
  if (check.ok) {
    const used = old.embeddingOutput ?? old.check.output ?? null;
    readout = used !== null ? chosenReadout(check.candidates, { output: used, pooling: 'none' }, `${used} is the output this encoder used before embedding readouts could be chosen.`) : null;
    if (readout === null) {
      const d = defaultReadout(old.info, null);
      if (d.ok) readout = d.choice;
      else readoutQuestion = d.reason;
    }
  }
  const { embeddingOutput: _dropped, ...rest } = old;
  return { ...rest, check, readout, readoutQuestion };
}
