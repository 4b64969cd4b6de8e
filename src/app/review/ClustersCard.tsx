// What the backdoor maps to: flagged images clustered by embedding; for each cluster, the clean
// photos the encoder sees it as (reveal by example, docs/ARCHITECTURE.md §5.7.1), its decoded mean
// embedding, labelled for what it is, and where its error sits.
import { useMutation } from '@tanstack/react-query';
import { useEffect, useMemo, useRef } from 'react';
import { isCancelled } from '../../core/runtime/cancel';
import { clusterMapRgba, denormalizeToRgb } from '../../core/report/image-maps';
import { useEncoderStore } from '../encoder/encoder-store';
import { revealClusters } from './reveal-service';
import { examplesHeadline, examplesScale, otherNearest, shownExamples, shownTitle, targetCaption, type ExamplePhoto, type RevealedCluster } from './reveal-text';
import type { ScanRow } from '../scan/scan-store';
import { PixelCanvas } from './PixelCanvas';
import { Thumb } from './Thumb';
import { useReviewStore } from './review-store';

export function ClustersCard({ scan, rows }: { scan: { scanId: string; threshold: number }; rows: readonly ScanRow[] }) {
  const setClusters = useReviewStore((s) => s.setClusters);
  const stored = useReviewStore((s) => s.clusters);
  // Kept in the review store so the report can include them; only this scan's count.
  const revealed = stored && stored.scanId === scan.scanId ? stored.clusters : null;
  // One reveal job at a time; Cancel, or leaving the view, stops it in the worker.
  const controller = useRef<AbortController | null>(null);
  useEffect(() => () => controller.current?.abort(), []);
  const run = useMutation({
    mutationFn: () => {
      controller.current = new AbortController();
      return revealClusters(rows, controller.current.signal);
    },
    onSuccess: (clusters) => setClusters({ scanId: scan.scanId, threshold: scan.threshold, clusters }),
  });
  const flagged = rows.filter((r) => r.flagged).length;
  return (
    <section className="card" aria-labelledby="clusters-title" data-testid="clusters-card">
      <h3 id="clusters-title">Clusters: what the backdoor maps to</h3>
      <p className="hint">
        A backdoor maps triggered images onto nearly one embedding. The {flagged} flagged images are grouped by embedding; for each group, the
        clean reference photos nearest its mean embedding show what the encoder sees in them — the kind of image the attacker made them look
        like — and its trigger map shows where the trigger sits.
      </p>
      <div className="row">
        <button type="button" className="button" disabled={flagged === 0 || run.isPending} onClick={() => run.mutate()}>
          {run.isPending ? 'Revealing…' : 'Reveal what the backdoor maps to'}
        </button>
        {run.isPending && <button type="button" className="button ghost" onClick={() => controller.current?.abort()}>Cancel</button>}
        {run.error && (isCancelled(run.error) ? <span className="muted">Cancelled.</span> : <span className="error" role="alert">{run.error.message}</span>)}
      </div>
      {revealed && revealed.length === 0 && <p className="muted">No group of at least 3 flagged images shares an embedding direction: no collapse found.</p>}
      {revealed && revealed.length > 0 && (
        <ol className="clusters">
          {revealed.map((c, i) => <ClusterView key={i} cluster={c} index={i} />)}
        </ol>
      )}
    </section>
  );
}

function ClusterView({ cluster, index }: { cluster: RevealedCluster; index: number }) {
  const pre = useEncoderStore((s) => s.encoder?.preprocessing ?? null);
  const side = Math.round(Math.sqrt(cluster.target.length / 3));
  const target = useMemo(() => (pre ? denormalizeToRgb(cluster.target, pre) : null), [cluster.target, pre]);
  const map = useMemo(() => clusterMapRgba(cluster), [cluster]);
  const ex = cluster.examples;
  const others = otherNearest(ex);
  return (
    <li className="cluster" data-testid="cluster">
      <div>
        <strong>Cluster {index + 1}: {cluster.size} images</strong>, cohesion {cluster.cohesion.toFixed(3)} (1 = one embedding)
      </div>
      <section className="cluster-examples" aria-label={`What the encoder sees cluster ${index + 1} as`} data-testid="cluster-examples">
        <p className="cluster-headline" data-testid="cluster-headline" data-label={ex.labels[0]?.label ?? ''}>{examplesHeadline(ex)}</p>
        <ExampleRow photos={shownExamples(ex)} title={shownTitle(ex)} testId="cluster-example" />
        {others && <ExampleRow photos={others} title="Nearest of all clean photos" testId="cluster-nearest" />}
        <p className="muted small">{examplesScale(ex)}</p>
      </section>
      <div className="cluster-images">
        <figure>
          <PixelCanvas rgb={target} size={side} label={`Decoded mean embedding of cluster ${index + 1}`} className="px-canvas" testId="cluster-target" />
          <figcaption>{targetCaption(cluster)}</figcaption>
        </figure>
        {map && cluster.triggerMap && (
          <figure>
            <PixelCanvas rgba={map} size={cluster.triggerMap.side} label={`Trigger map of cluster ${index + 1}, peak at x ${cluster.triggerMap.peak.x}, y ${cluster.triggerMap.peak.y}`} className="px-canvas big" />
            <figcaption>trigger map (peak x {cluster.triggerMap.peak.x}, y {cluster.triggerMap.peak.y})</figcaption>
          </figure>
        )}
      </div>
      <div>
        <h4 className="cluster-row-title">Members</h4>
        {/* Every member, scrolling inside the card; a long path is cut with an ellipsis and shown whole on hover. */}
        <ul className="cluster-members" aria-label={`Members of cluster ${index + 1}`} tabIndex={0}>
          {cluster.members.map((m) => <li key={`${m.datasetId}:${m.slot}`}><code title={m.path}>{m.path}</code></li>)}
        </ul>
      </div>
    </li>
  );
}

function ExampleRow({ photos, title, testId }: { photos: readonly ExamplePhoto[]; title: string; testId: string }) {
  return (
    <div>
      <h4 className="cluster-row-title">{title}</h4>
      <ol className="example-row">
        {photos.map((p) => (
          <li key={p.slot} data-testid={testId} data-label={p.label ?? ''} data-path={p.path}>
            <figure>
              <Thumb datasetId={p.datasetId} slot={p.slot} className="example-thumb" label={`${p.path}, similarity ${p.similarity.toFixed(2)}`} />
              <figcaption title={p.path}>
                {p.label && <span className="example-label">{p.label}</span>}
                <span className="num">{p.similarity.toFixed(2)}</span>
              </figcaption>
            </figure>
          </li>
        ))}
      </ol>
    </div>
  );
}
