import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { formatBytes } from '../../core/hub/download';
import { useEncoderStore } from './encoder-store';
import { modelStore, storageEstimate } from './encoder-service';

/** Cached model files with their sizes and hashes, storage use, and eviction protection. */
export function ModelManager() {
  const queryClient = useQueryClient();
  const encoderKey = useEncoderStore((s) => s.encoder?.key ?? null);
  const files = useQuery({ queryKey: ['cached-models'], queryFn: () => modelStore.list() });
  const estimate = useQuery({ queryKey: ['storage-estimate', files.data?.length], queryFn: storageEstimate });
  const remove = useMutation({
    mutationFn: (key: string) => modelStore.delete(key),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['cached-models'] }),
  });
  const persist = useMutation({
    mutationFn: async () => (navigator.storage?.persist ? navigator.storage.persist() : false),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['storage-estimate'] }),
  });
  return (
    <section className="card" aria-labelledby="model-manager-title">
      <h3 id="model-manager-title">Saved models</h3>
      {files.data && files.data.length === 0 && <p className="muted">No models saved in this browser yet.</p>}
      {files.data && files.data.length > 0 && (
        <table className="table">
          <thead>
            <tr>
              <th scope="col">File</th>
              <th scope="col">Source</th>
              <th scope="col">Size</th>
              <th scope="col">SHA-256</th>
              <th scope="col">Saved</th>
              <th scope="col"><span className="sr-only">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            {files.data.map((f) => (
              <tr key={f.key}>
                <td><code>{f.path}</code></td>
                <td>{f.repo ? `${f.repo}${f.commit ? ` @ ${f.commit.slice(0, 8)}` : ''}` : f.repo === null && f.key.includes('/__local-models__/') ? 'local file' : f.sourceUrl}</td>
                <td>{formatBytes(f.size)}</td>
                <td><code title={f.sha256}>{f.sha256.slice(0, 12)}…</code></td>
                <td>{new Date(f.savedAt).toLocaleString()}</td>
                <td>
                  <button
                    type="button"
                    className="button ghost small"
                    onClick={() => remove.mutate(f.key)}
                    aria-label={`Delete ${f.path}`}
                    disabled={remove.isPending}
                  >
                    Delete{f.key === encoderKey ? ' (in use)' : ''}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {estimate.data && (
        <p className="muted" data-testid="storage-estimate">
          This site uses {formatBytes(estimate.data.usage)} of {formatBytes(estimate.data.quota)} available.{' '}
          {estimate.data.persisted ? (
            'Storage is protected from automatic eviction.'
          ) : (
            <button type="button" className="link" onClick={() => persist.mutate()}>
              Protect saved models from eviction
            </button>
          )}
          {persist.data === false && ' The browser declined; it may grant this after more use.'}
        </p>
      )}
    </section>
  );
}
