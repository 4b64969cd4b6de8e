import { adapterLabel } from '../../core/runtime/ep-choice';
import type { BackendInfo } from '../../../workers/model-api';
import { useAppStore } from '../store';

export function backendLabel(info: BackendInfo): string {
  if (info.ep === 'webgpu') return `WebGPU · ${info.adapter ? adapterLabel(info.adapter) : 'GPU'}`;
  return `WASM · ${info.wasmThreads} thread${info.wasmThreads === 1 ? '' : 's'}`;
}

export function BackendBadge() {
  const status = useAppStore((s) => s.backend);
  if (status.state === 'starting') {
    return (
      <span className="badge badge-pending" role="status" data-testid="backend-badge" data-state="starting">
        <span className="spinner" aria-hidden="true" /> Starting backend…
      </span>
    );
  }
  if (status.state === 'failed') {
    return (
      <span className="badge badge-error" role="status" data-testid="backend-badge" data-state="failed" title={status.error}>
        No backend: {status.error}
      </span>
    );
  }
  const { info, fallbackReason, notice } = status;
  const details = [info.reason, fallbackReason ? `Fallback: ${fallbackReason}` : null, notice, `ONNX Runtime ${info.ortVersion}`]
    .filter(Boolean)
    .join('\n');
  return (
    <span
      className={`badge ${fallbackReason || notice ? 'badge-warn' : 'badge-ok'}`}
      role="status"
      data-testid="backend-badge"
      data-state="ready"
      data-ep={info.ep}
      title={details}
    >
      {backendLabel(info)}
      {fallbackReason ? ' (fallback)' : ''}
    </span>
  );
}
