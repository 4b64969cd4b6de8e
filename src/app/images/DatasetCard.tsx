import { useId, useState } from 'react';
import { ROLE_HINT, ROLE_LABEL, type DatasetRole } from '../../core/images/dataset';
import { UNREADABLE_LABEL } from '../../core/images/reasons';
import { formatBytes } from '../../core/hub/download';
import { formatDuration } from '../shell/ProgressBar';
import { cancelLoading, removeDataset, setDatasetRole } from './images-service';
import { LIST_CAP, useImagesStore, type DatasetSummary, type LoadProgress } from './images-store';
import { ThumbStrip } from './ThumbStrip';

const ROLES: DatasetRole[] = ['clean', 'suspect', 'poisoned'];

const STATUS_TEXT: Record<DatasetSummary['status'], string> = {
  loading: 'Loading',
  ready: 'Ready',
  cancelled: 'Cancelled (partly loaded)',
  interrupted: 'Interrupted',
  failed: 'Failed',
};

const n = (x: number) => x.toLocaleString('en');

export function DatasetCard({ dataset: d }: { dataset: DatasetSummary }) {
  const roleId = useId();
  const progress = useImagesStore((s) => s.progress[d.id]);
  const [removing, setRemoving] = useState(false);
  const loading = d.status === 'loading';
  return (
    <section className="card dataset" aria-labelledby={`${roleId}-title`} data-testid="dataset" data-dataset-name={d.name} data-status={d.status}>
      <div className="card-head">
        <h3 id={`${roleId}-title`}>{d.name}</h3>
        <span className={`badge ${d.status === 'ready' ? 'badge-ok' : loading ? 'badge-pending' : d.status === 'failed' ? 'badge-error' : 'badge-warn'}`}>
          {STATUS_TEXT[d.status]}
        </span>
      </div>
      <div className="row">
        <label htmlFor={roleId}>Role</label>
        <select id={roleId} className="select" value={d.role} onChange={(e) => void setDatasetRole(d.id, e.target.value as DatasetRole)}>
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {ROLE_LABEL[r]}
            </option>
          ))}
        </select>
        <span className="hint">{ROLE_HINT[d.role]}</span>
        <span className="spacer" />
        <button
          type="button"
          className="button ghost small"
          disabled={removing}
          onClick={() => {
            setRemoving(true);
            void removeDataset(d.id);
          }}
        >
          Remove {d.name}
        </button>
      </div>
      <dl className="counts" data-testid="dataset-counts">
        <div>
          <dt>Files</dt>
          <dd data-testid="count-files">{n(d.counts.files)}</dd>
        </div>
        <div>
          <dt>Images</dt>
          <dd data-testid="count-images">{n(d.counts.images)}</dd>
        </div>
        <div>
          <dt>Unreadable</dt>
          <dd data-testid="count-unreadable">{n(d.counts.unreadable)}</dd>
        </div>
        <div>
          <dt>Duplicates</dt>
          <dd data-testid="count-duplicates">{n(d.counts.duplicates)}</dd>
        </div>
        <div>
          <dt>Stored at</dt>
          <dd>
            {d.layout.size}×{d.layout.size}
          </dd>
        </div>
      </dl>
      {loading && progress && <CountProgress name={d.name} progress={progress} onCancel={() => cancelLoading(d.id)} />}
      {loading && !progress && <p role="status">Waiting for the folder before it…</p>}
      {!loading && d.loadSeconds !== null && d.counts.processed > 0 && (
        <p className="hint">
          Loaded {n(d.counts.processed)} files in {formatDuration(d.loadSeconds)}
          {d.status === 'cancelled' && d.counts.processed < d.counts.files ? ` (${n(d.counts.files - d.counts.processed)} not looked at)` : ''}.
          {d.persistent
            ? ` A ${d.layout.size}×${d.layout.size} copy is kept in this browser’s private storage: a reload restores the folder without asking for access to it again.`
            : ' This browser has no private file storage, so a reload will lose these images.'}
        </p>
      )}
      {d.error && <p className="error" role="alert">{d.error}</p>}
      <UnreadableList dataset={d} />
      <DuplicateList dataset={d} />
      {d.mismatched.length > 0 && (
        <details className="dataset-details">
          <summary>{n(d.counts.mismatched)} with a misleading extension (used anyway)</summary>
          <ul className="plain-list">
            {d.mismatched.map((m) => (
              <li key={m.path}>
                <code>{m.path}</code> — {m.note}
              </li>
            ))}
          </ul>
        </details>
      )}
      {d.counts.images > 0 && !loading && <ThumbStrip dataset={d} />}
    </section>
  );
}

function CountProgress({ name, progress: p, onCancel }: { name: string; progress: LoadProgress; onCancel: () => void }) {
  const pct = p.total > 0 ? (p.done / p.total) * 100 : 0;
  return (
    <div className="progress" data-testid="images-progress" data-done={p.done} data-total={p.total}>
      <div className="progress-head">
        <span className="progress-label">Decoding {name}</span>
        <button type="button" className="button ghost small" onClick={onCancel}>
          Cancel
        </button>
      </div>
      <progress max={p.total} value={p.done} aria-label={`Loading ${name}`} />
      <div className="progress-facts">
        <span>
          {n(p.done)} of {n(p.total)} files · {pct.toFixed(0)}%
        </span>
        <span>
          {p.imagesPerSecond > 0 ? `${n(Math.round(p.imagesPerSecond))} files/s` : ''}
          {p.etaSeconds !== null ? ` · ${formatDuration(p.etaSeconds)} left` : ''}
        </span>
      </div>
    </div>
  );
}

function UnreadableList({ dataset: d }: { dataset: DatasetSummary }) {
  if (d.counts.unreadable === 0) return null;
  return (
    <details className="dataset-details" open={d.counts.unreadable <= 20}>
      <summary>
        {n(d.counts.unreadable)} unreadable file{d.counts.unreadable === 1 ? '' : 's'} (skipped)
      </summary>
      <table className="table" data-testid="unreadable-list">
        <caption className="sr-only">Files of {d.name} that were not used, and why</caption>
        <thead>
          <tr>
            <th scope="col">File</th>
            <th scope="col">Size</th>
            <th scope="col">Problem</th>
          </tr>
        </thead>
        <tbody>
          {d.unreadable.map((u) => (
            <tr key={u.path}>
              <td>
                <code>{u.path}</code>
              </td>
              <td>{formatBytes(u.bytes)}</td>
              <td>
                <span className="sr-only">{UNREADABLE_LABEL[u.kind]}: </span>
                {u.reason}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {d.counts.unreadable > d.unreadable.length && <p className="hint">Showing the first {LIST_CAP}.</p>}
    </details>
  );
}

function DuplicateList({ dataset: d }: { dataset: DatasetSummary }) {
  if (d.duplicates.length === 0) return null;
  return (
    <details className="dataset-details" open={d.duplicates.length <= 10}>
      <summary>
        {n(d.counts.duplicates)} duplicate{d.counts.duplicates === 1 ? '' : 's'} in {n(d.duplicates.length)} group{d.duplicates.length === 1 ? '' : 's'} (same bytes)
      </summary>
      <ul className="plain-list" data-testid="duplicate-list">
        {d.duplicates.map((g) => (
          <li key={g.sha256}>
            <code>{g.paths[0]}</code> is repeated as {g.paths.slice(1).map((p, i) => (
              <span key={p}>
                {i > 0 ? ', ' : ''}
                <code>{p}</code>
              </span>
            ))}
            {g.files !== undefined && g.files > g.paths.length && ` and ${n(g.files - g.paths.length)} more`}
            <span className="hint"> · SHA-256 {g.sha256.slice(0, 12)}…</span>
          </li>
        ))}
      </ul>
      {d.duplicates.length >= LIST_CAP && <p className="hint">Showing the first {LIST_CAP} groups.</p>}
    </details>
  );
}
