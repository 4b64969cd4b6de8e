import { useEffect, useId, useRef, useState } from 'react';
import { DEFAULT_HUB_ENDPOINT, normaliseEndpoint } from '../../core/hub/url';
import { useEncoderStore } from '../encoder/encoder-store';
import { documentPolicyInstalled } from '../privacy/document-csp';
import type { EpPreference } from '../../core/runtime/ep-choice';
import { effectivePreference, restartBackend } from '../backend/backend-service';
import { useAppStore } from '../store';
import { backendLabel } from './BackendBadge';
import { errorText } from '../../core/runtime/error-text';

const OPTIONS: { value: EpPreference; label: string; hint: string }[] = [
  { value: 'auto', label: 'Automatic', hint: 'WebGPU on a real GPU, otherwise multithreaded WASM.' },
  { value: 'webgpu', label: 'WebGPU', hint: 'Force WebGPU, even on a slow software adapter.' },
  { value: 'wasm', label: 'WASM (CPU)', hint: 'Always run on the CPU.' },
];

export function SettingsDialog({ onClose }: { onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const preference = useAppStore((s) => s.epPreference);
  const setPreference = useAppStore((s) => s.setEpPreference);
  const backend = useAppStore((s) => s.backend);
  const queryOverride = new URLSearchParams(window.location.search).get('ep');

  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
  }, []);

  const choose = (value: EpPreference) => {
    setPreference(value);
    void restartBackend().catch(() => undefined);
  };

  return (
    <dialog ref={ref} className="dialog" aria-labelledby="settings-title" onClose={onClose}>
      <h2 id="settings-title">Settings</h2>
      <fieldset className="field">
        <legend>Compute backend</legend>
        {OPTIONS.map((o) => (
          <label key={o.value} className="radio">
            <input type="radio" name="ep" value={o.value} checked={preference === o.value} onChange={() => choose(o.value)} />
            <span>
              <strong>{o.label}</strong> — {o.hint}
            </span>
          </label>
        ))}
        {queryOverride && (
          <p className="hint">
            The page address sets <code>?ep={queryOverride}</code>, which overrides this setting ({effectivePreference()} in use).
          </p>
        )}
      </fieldset>
      <HubEndpointField />
      <section className="field" aria-live="polite">
        <h3>In use</h3>
        {backend.state === 'ready' && (
          <dl className="facts">
            <dt>Backend</dt>
            <dd>{backendLabel(backend.info)}</dd>
            <dt>Why</dt>
            <dd>{backend.info.reason}</dd>
            {backend.fallbackReason && (
              <>
                <dt>Fallback</dt>
                <dd>{backend.fallbackReason}</dd>
              </>
            )}
            <dt>Self-test</dt>
            <dd>passed in {Math.round(backend.info.selfTestMs)} ms</dd>
            <dt>ONNX Runtime</dt>
            <dd>{backend.info.ortVersion}</dd>
          </dl>
        )}
        {backend.state === 'starting' && <p>Starting…</p>}
        {backend.state === 'failed' && <p className="error">{backend.error}</p>}
      </section>
      <div className="dialog-actions">
        <button type="button" className="button" onClick={() => ref.current?.close()} autoFocus>
          Close
        </button>
      </div>
    </dialog>
  );
}

function HubEndpointField() {
  const id = useId();
  const endpoint = useEncoderStore((s) => s.hubEndpoint);
  const setEndpoint = useEncoderStore((s) => s.setHubEndpoint);
  const [text, setText] = useState(endpoint);
  const [error, setError] = useState<string | null>(null);
  const save = (value: string) => {
    try {
      const normalised = normaliseEndpoint(value || DEFAULT_HUB_ENDPOINT);
      setEndpoint(normalised);
      // The page's security policy names the hub it may connect to; a new one takes a reload.
      if (normalised !== endpoint && documentPolicyInstalled()) return void location.reload();
      setText(normalised);
      setError(null);
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <fieldset className="field">
      <legend>Model hub</legend>
      <label htmlFor={id}>Hub endpoint (a Hugging Face mirror works too)</label>
      <div className="inline-form">
        <input id={id} className="text-input" value={text} onChange={(e) => setText(e.target.value)} spellCheck={false} />
        <button type="button" className="button ghost" onClick={() => save(text)}>
          Save
        </button>
      </div>
      {error && <p className="error" role="alert">{error}</p>}
      {documentPolicyInstalled() && <p className="hint">Saving a new endpoint reloads the page: its security policy lets it connect only to this app and the saved hub.</p>}
    </fieldset>
  );
}
