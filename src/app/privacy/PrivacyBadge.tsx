// "0 bytes sent", measured: the header badge reads the page's NetworkLedger; its details list every
// origin the page talked to, what left, what the policy refused, and the policy itself.
import { useEffect, useRef, useState, useSyncExternalStore } from 'react';
import { formatBytes, ledgerBadgeText, ledgerHeadline, type LedgerSummary, type OriginCount } from '../../core/privacy/network-ledger';
import { policiesInForce } from './document-csp';
import { networkLedger } from './network-guard';
import './privacy.css';

const subscribe = (listener: () => void) => networkLedger.subscribe(listener);
const snapshot = () => networkLedger.summary();

export function PrivacyBadge() {
  const summary = useSyncExternalStore(subscribe, snapshot);
  const [open, setOpen] = useState(false);
  const clean = summary.bytesSent === 0 && summary.unknownSizeSends === 0;
  const foreign = summary.otherOrigins.reduce((a, o) => a + o.answered + o.unanswered, 0);
  return (
    <>
      <button
        type="button"
        className={`badge privacy-badge ${clean ? 'badge-ok' : 'badge-warn'}`}
        data-testid="privacy-badge"
        data-bytes-sent={summary.bytesSent}
        data-unknown-sends={summary.unknownSizeSends}
        data-other-requests={foreign}
        data-blocked={summary.blocked.length}
        title={`${ledgerHeadline(summary)} (click for details)`}
        onClick={() => setOpen(true)}
      >
        {ledgerBadgeText(summary)}
      </button>
      {open && <PrivacyDialog summary={summary} onClose={() => setOpen(false)} />}
    </>
  );
}

function PrivacyDialog({ summary, onClose }: { summary: LedgerSummary; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    // Focus lands on Close at the bottom; the summary at the top is what the user came for.
    if (dialog) dialog.scrollTop = 0;
  }, []);
  const policies = policiesInForce();
  return (
    <dialog ref={ref} className="dialog privacy-dialog" aria-labelledby="privacy-title" onClose={onClose}>
      <h2 id="privacy-title">Network activity</h2>
      <p className="hint">
        Measured in this page and its workers since it opened: every request they made (resource timings) and every request body
        they sent (fetch, XMLHttpRequest, beacons, WebSockets). Images, embeddings and results are processed here and never sent.
      </p>
      <p data-testid="privacy-headline"><strong>{ledgerHeadline(summary)}</strong></p>
      <dl className="facts">
        <dt>Sent</dt>
        <dd data-testid="privacy-sent">
          {formatBytes(summary.bytesSent)}
          {summary.unknownSizeSends > 0 ? ` and ${summary.unknownSizeSends} bodies of unknown size` : ''}
        </dd>
        <dt>{new URL(summary.selfOrigin).host}</dt>
        <dd>{summary.selfRequests} requests (this app)</dd>
        {summary.otherOrigins.map((o) => (
          <Fact key={o.origin} term={new URL(o.origin).host} value={originText(o)} />
        ))}
      </dl>
      {summary.sends.length > 0 && (
        <>
          <h3>Requests with a body</h3>
          <ul className="privacy-list">
            {summary.sends.map((s, i) => (
              <li key={i}>
                {s.method} <code>{s.url}</code> · {s.bytes === null ? 'unknown size' : formatBytes(s.bytes)} ({s.channel})
              </li>
            ))}
          </ul>
        </>
      )}
      {summary.failedSends.length > 0 && (
        <>
          <h3>Requests with a body that got no answer (refused, offline or aborted)</h3>
          <ul className="privacy-list">
            {summary.failedSends.map((s, i) => (
              <li key={i}>
                {s.method} <code>{s.url}</code> ({s.channel})
              </li>
            ))}
          </ul>
        </>
      )}
      {summary.blocked.length > 0 && (
        <>
          <h3>Refused by the security policy</h3>
          <ul className="privacy-list" data-testid="privacy-blocked">
            {summary.blocked.map((b, i) => (
              <li key={i}>
                <code>{b.url}</code> ({b.directive})
              </li>
            ))}
          </ul>
        </>
      )}
      <h3>Content-Security-Policy in force</h3>
      {policies.length > 1 && <p className="hint">All apply at once: the one from index.html, and the one set at start-up that limits connections to the saved hub.</p>}
      {policies.length === 0 ? (
        <p className="hint">None: this is the development server (hot reload needs inline scripts). Production builds carry the policy.</p>
      ) : (
        policies.map((p, i) => (
          <pre key={i} className="privacy-policy" data-testid="privacy-policy">
            {p.split('; ').join(';\n')}
          </pre>
        ))
      )}
      <p className="hint">Web workers take their policy from the server&apos;s response, which limits their connections to this app&apos;s origin.</p>
      <div className="dialog-actions">
        <button type="button" className="button" onClick={() => ref.current?.close()} autoFocus>
          Close
        </button>
      </div>
    </dialog>
  );
}

function Fact({ term, value }: { term: string; value: string }) {
  return (
    <>
      <dt>{term}</dt>
      <dd>{value}</dd>
    </>
  );
}

function originText(o: OriginCount): string {
  const answered = `${o.answered} request${o.answered === 1 ? '' : 's'} answered`;
  return o.unanswered > 0 ? `${answered}, ${o.unanswered} without an answer (offline or unreachable)` : answered;
}
