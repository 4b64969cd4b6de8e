import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useId, useRef, useState, type DragEvent, type FormEvent } from 'react';
import { formatBytes } from '../../core/hub/download';
import { listOnnxFiles, type FileSource } from '../../core/hub/model-repo';
import { parseModelSource } from '../../core/hub/url';
import { formatDims } from '../../core/onnx/inspect';
import { ByteProgress } from '../shell/ProgressBar';
import { useEncoderStore, type EncoderRecord } from './encoder-store';
import { explainLoadError, hubAccess, loadEncoderFromFile, loadEncoderFromSource, testRunEncoder, type LoadProgress } from './encoder-service';
import { ModelManager } from './ModelManager';
import { ReadoutPicker } from './ReadoutPicker';
import { RepoFiles } from './RepoFiles';
import { DemoCard } from '../demo/DemoCard';

export function EncoderStep() {
  const encoder = useEncoderStore((s) => s.encoder);
  return (
    <div className="stack">
      <p className="lead">
        The encoder is the self-supervised image model under suspicion, as an ONNX file: it takes normalised pixels
        [N, 3, H, W] and gives one embedding per image (an output [N, D], or a feature map or token sequence pooled to
        one). It is only ever called, never changed.
      </p>
      <DemoCard />
      {encoder && <EncoderSummary encoder={encoder} />}
      <div className="columns">
        <HubLoader />
        <LocalLoader />
      </div>
      <ModelManager />
    </div>
  );
}

function useLoadEncoder() {
  const setEncoder = useEncoderStore((s) => s.setEncoder);
  const queryClient = useQueryClient();
  const [progress, setProgress] = useState<LoadProgress | null>(null);
  const controller = useRef<AbortController | null>(null);
  const mutation = useMutation({
    mutationFn: async (source: FileSource) => {
      controller.current?.abort();
      const c = new AbortController();
      controller.current = c;
      setProgress(null);
      try {
        return await loadEncoderFromSource(source, setProgress, c.signal);
      } finally {
        setProgress(null);
      }
    },
    onSuccess: (record) => {
      setEncoder(record);
      void queryClient.invalidateQueries({ queryKey: ['cached-models'] });
    },
  });
  return { mutation, progress, cancel: () => controller.current?.abort() };
}

function HubLoader() {
  const inputId = useId();
  const [text, setText] = useState('');
  const [parseError, setParseError] = useState<string | null>(null);
  // `attempt` makes a repeated submit of the same repo list it again (e.g. after adding a token).
  const [repo, setRepo] = useState<{ repo: string; revision: string | null; attempt: number } | null>(null);
  const { hubEndpoint, token, rememberToken, setToken } = useEncoderStore();
  const { mutation, progress, cancel } = useLoadEncoder();
  const listing = useQuery({
    queryKey: ['repo-files', hubEndpoint, repo?.repo, repo?.revision, repo?.attempt],
    enabled: repo !== null,
    queryFn: ({ signal }) => listOnnxFiles(hubAccess(), repo!.repo, repo!.revision, signal),
    retry: false,
  });
  const loadError = mutation.error ? explainLoadError(mutation.error) : listing.error ? explainLoadError(listing.error) : null;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    mutation.reset();
    const parsed = parseModelSource(text, hubEndpoint);
    if (!parsed.ok) {
      setParseError(parsed.error);
      setRepo(null);
      return;
    }
    setParseError(null);
    if (parsed.source.kind === 'hub-repo') setRepo({ repo: parsed.source.repo, revision: parsed.source.revision, attempt: (repo?.attempt ?? 0) + 1 });
    else {
      setRepo(null);
      mutation.mutate(parsed.source);
    }
  };

  return (
    <section className="card" aria-labelledby={`${inputId}-title`}>
      <h3 id={`${inputId}-title`}>From Hugging Face or a URL</h3>
      <form onSubmit={submit} className="inline-form">
        <label htmlFor={inputId} className="sr-only">Model URL or repo id</label>
        <input
          id={inputId}
          className="text-input"
          value={text}
          onChange={(e) => setText(e.target.value)}
          placeholder="org/model or https://huggingface.co/org/model/resolve/main/model.onnx"
          spellCheck={false}
          autoComplete="off"
        />
        <button type="submit" className="button" disabled={mutation.isPending}>
          Load
        </button>
      </form>
      <p className="hint">Hub: {hubEndpoint} (change it in Settings). Files are cached in this browser, keyed by commit.</p>
      {parseError && <p className="error" role="alert">{parseError}</p>}
      {repo && listing.isPending && <p role="status">Listing the .onnx files of {repo.repo}…</p>}
      {repo && listing.data && (
        <RepoFiles
          listing={listing.data}
          busy={mutation.isPending}
          onLoad={(path) => mutation.mutate({ kind: 'hub-file', repo: repo.repo, revision: listing.data.revision, path })}
        />
      )}
      {mutation.isPending && progress && (
        <ByteProgress
          label={progress.file}
          loaded={progress.progress.loaded}
          total={progress.progress.total}
          bytesPerSecond={progress.progress.bytesPerSecond}
          etaSeconds={progress.progress.etaSeconds}
          onCancel={cancel}
        />
      )}
      {mutation.isPending && !progress && <p role="status">Contacting the hub…</p>}
      {loadError && <p className="error" role="alert">{loadError.message}</p>}
      {(loadError?.needsToken || token) && (
        <div className="token">
          <label>
            Access token
            <input
              type="password"
              className="text-input"
              value={token}
              onChange={(e) => setToken(e.target.value, rememberToken)}
              placeholder="hf_…"
              autoComplete="off"
            />
          </label>
          <label className="checkbox">
            <input type="checkbox" checked={rememberToken} onChange={(e) => setToken(token, e.target.checked)} />
            Remember on this device (otherwise it is forgotten when the tab closes)
          </label>
        </div>
      )}
      {mutation.isSuccess && <p role="status" className="ok">Loaded {mutation.data.name}.</p>}
    </section>
  );
}

function LocalLoader() {
  const setEncoder = useEncoderStore((s) => s.setEncoder);
  const queryClient = useQueryClient();
  const [dragging, setDragging] = useState(false);
  const fileInput = useRef<HTMLInputElement>(null);
  const mutation = useMutation({
    mutationFn: async (files: File[]) => {
      const model = files.find((f) => /\.onnx$/i.test(f.name));
      if (!model) throw new Error(files.length === 0 ? 'No file was dropped.' : `None of ${files.map((f) => f.name).join(', ')} is an .onnx file.`);
      const config = files.find((f) => /preprocessor_config\.json$/i.test(f.name)) ?? null;
      const modelConfig = files.find((f) => /^config\.json$/i.test(f.name)) ?? null;
      return loadEncoderFromFile(model, config, modelConfig);
    },
    onSuccess: (record) => {
      setEncoder(record);
      void queryClient.invalidateQueries({ queryKey: ['cached-models'] });
    },
  });
  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setDragging(false);
    mutation.mutate([...e.dataTransfer.files]);
  };
  return (
    <section className="card" aria-labelledby="local-encoder-title">
      <h3 id="local-encoder-title">From a file on this computer</h3>
      <div
        className={`drop-zone${dragging ? ' dragging' : ''}`}
        data-testid="encoder-drop"
        onDragOver={(e) => {
          e.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={onDrop}
      >
        <p>Drop an .onnx file here, with its preprocessor_config.json and config.json if you have them.</p>
        <button type="button" className="button ghost" onClick={() => fileInput.current?.click()}>
          Choose files…
        </button>
        <input
          ref={fileInput}
          type="file"
          accept=".onnx,.json"
          multiple
          hidden
          data-testid="encoder-file-input"
          onChange={(e) => mutation.mutate([...(e.target.files ?? [])])}
        />
      </div>
      {mutation.isPending && <p role="status">Reading the model…</p>}
      {mutation.error && <p className="error" role="alert">{explainLoadError(mutation.error).message}</p>}
    </section>
  );
}

function EncoderSummary({ encoder }: { encoder: EncoderRecord }) {
  const { testRun, setTestRun, setEncoder } = useEncoderStore();
  const run = useMutation({ mutationFn: () => testRunEncoder(encoder), onSuccess: setTestRun });
  return (
    <section className="card encoder-summary" aria-labelledby="encoder-summary-title" data-testid="encoder-summary">
      <div className="card-head">
        <h3 id="encoder-summary-title">{encoder.name}</h3>
        <button type="button" className="button ghost small" onClick={() => setEncoder(null)}>
          Unload
        </button>
      </div>
      {!encoder.check.ok && (
        <p className="error" role="alert" data-testid="encoder-refusal">
          Not usable as an image encoder: {encoder.check.reason}
        </p>
      )}
      <dl className="facts">
        <dt>Source</dt>
        <dd>{encoder.repo ? `${encoder.repo} @ ${encoder.revision ?? ''}` : encoder.sourceUrl ?? 'local file'}</dd>
        {encoder.commit && (
          <>
            <dt>Commit</dt>
            <dd><code>{encoder.commit}</code></dd>
          </>
        )}
        <dt>Size</dt>
        <dd>{formatBytes(encoder.size)} · {encoder.info.parameterCount.toLocaleString()} parameters · {encoder.info.nodeCount} nodes · opset {encoder.info.opsets.map((o) => o.version).join(', ')}</dd>
        <dt>SHA-256</dt>
        <dd><code className="hash" data-testid="encoder-sha256">{encoder.sha256}</code></dd>
        <dt>Inputs</dt>
        <dd>{encoder.info.inputs.map((i) => `${i.name}: ${i.elemType} ${i.dims ? formatDims(i.dims) : '(unknown shape)'}`).join('; ')}</dd>
        <dt>Outputs</dt>
        <dd>{encoder.info.outputs.map((o) => `${o.name}: ${o.elemType} ${o.dims ? formatDims(o.dims) : '(unknown shape)'}`).join('; ')}</dd>
        {encoder.externalData.length > 0 && (
          <>
            <dt>External data</dt>
            <dd>{encoder.externalData.map((e) => e.path).join(', ')}</dd>
          </>
        )}
        {encoder.modelConfig && (
          <>
            <dt>config.json</dt>
            <dd>{encoder.modelConfig}{encoder.configFiles?.model ? ` (${encoder.configFiles.model})` : ''}</dd>
          </>
        )}
        <dt>Preprocessing</dt>
        <dd>
          {encoder.preprocessing
            ? `${encoder.preprocessing.width}×${encoder.preprocessing.height}, mean [${encoder.preprocessing.mean.join(', ')}], std [${encoder.preprocessing.std.join(', ')}] (from ${encoder.configFiles?.preprocessor ?? encoder.preprocessing.origin})${encoder.preprocessing.resize ? `; photos: ${encoder.preprocessing.resize.description}` : ''}${encoder.configFiles?.preprocessor && encoder.preprocessing.resize?.notes.length ? ` (${encoder.preprocessing.resize.notes.join('; ')})` : ''}`
            : encoder.preprocessingNote}
        </dd>
      </dl>
      <ReadoutPicker encoder={encoder} />
      {encoder.notices.map((n) => (
        <p key={n} className="notice">{n}</p>
      ))}
      {encoder.check.ok && (
        <div className="row">
          <button type="button" className="button" onClick={() => run.mutate()} disabled={run.isPending}>
            {run.isPending ? 'Running…' : 'Test run'}
          </button>
          {testRun && !run.isPending && (
            <span role="status" data-testid="encoder-test-run">
              Batch of {testRun.batch} → [{testRun.outputDims.join(', ')}] in {testRun.ms.toFixed(1)} ms on {testRun.ep === 'webgpu' ? 'WebGPU' : 'WASM'}
            </span>
          )}
          {run.error && <span className="error" role="alert">{explainLoadError(run.error).message}</span>}
        </div>
      )}
    </section>
  );
}
