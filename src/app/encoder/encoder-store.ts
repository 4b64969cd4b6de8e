// The chosen encoder and the hub settings. The model bytes live in the Cache API; this store keeps
// what is needed to find them again after a reload, plus what inspection found.
import { create } from 'zustand';
import { persist } from 'zustand/middleware';
import { DEFAULT_HUB_ENDPOINT } from '../../core/hub/url';
import type { ImageEncoderCheck, ModelInfo } from '../../core/onnx/inspect';
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
  readonly embeddingOutput: string | null;
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
  setEmbeddingOutput(name: string): void;
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
      setEmbeddingOutput: (name) => set((s) => (s.encoder ? { encoder: { ...s.encoder, embeddingOutput: name }, testRun: null } : {})),
      setTestRun: (testRun) => set({ testRun }),
      setHubEndpoint: (hubEndpoint) => set({ hubEndpoint }),
      setToken: (token, rememberToken) => set({ token, rememberToken }),
    }),
    {
      name: 'dede-web/encoder',
      version: 1,
      partialize: (s) => ({
        encoder: s.encoder,
        hubEndpoint: s.hubEndpoint,
        rememberToken: s.rememberToken,
        ...(s.rememberToken ? { token: s.token } : {}),
      }),
    },
  ),
);
