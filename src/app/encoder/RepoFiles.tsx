// The .onnx files of a hub repo as a table of components and precision variants, with the file
// DeDe needs preselected and the reason given, or why the repo has no image model.
import { useId } from 'react';
import { formatBytes } from '../../core/hub/download';
import type { RepoListing } from '../../core/hub/model-repo';
import type { ComponentRole } from '../../core/hub/repo-layout';

const ROLE_LABEL: Readonly<Record<ComponentRole, string>> = {
  image: 'image',
  text: 'text',
  audio: 'audio',
  joint: 'text + image',
  decoder: 'text decoder',
  unknown: 'input unknown',
};

export function RepoFiles({ listing, busy, onLoad }: { listing: RepoListing; busy: boolean; onLoad: (path: string) => void }) {
  const reasonId = useId();
  const { layout } = listing;
  const chosen = layout.preselected?.path ?? null;
  return (
    <div className="repo-files" role="group" aria-label={`ONNX files in ${listing.repo}`}>
      {listing.offlineNotice && <p className="notice">{listing.offlineNotice}</p>}
      {layout.noImageModel && (
        <p className="error" role="alert" data-testid="repo-no-image-model">
          {layout.noImageModel}
        </p>
      )}
      {layout.preselected && (
        <p id={reasonId} className="ok" role="status" data-testid="repo-preselected">
          {layout.preselected.reason}
        </p>
      )}
      {layout.groups.length > 0 && (
        <table className="table repo-files-table" aria-label={`ONNX files in ${listing.repo} at ${listing.revision}`}>
          <thead>
            <tr>
              <th scope="col">Component</th>
              <th scope="col">Variant</th>
              <th scope="col">Size</th>
              <th scope="col"><span className="sr-only">Load</span></th>
            </tr>
          </thead>
          <tbody>
            {layout.groups.flatMap((g) =>
              g.files.map((f, i) => {
                const isChosen = f.path === chosen;
                return (
                  <tr key={f.path} className={isChosen ? 'preselected' : undefined} aria-describedby={isChosen ? reasonId : undefined} data-testid={isChosen ? 'repo-preselected-row' : undefined}>
                    {i === 0 && (
                      <th scope="rowgroup" rowSpan={g.files.length}>
                        {g.component} <span className="muted">({ROLE_LABEL[g.role]})</span>
                        {g.folder && <span className="muted repo-files-folder">in {g.folder}/</span>}
                      </th>
                    )}
                    <td title={f.path}>
                      {f.variant}
                      {isChosen && <strong className="badge">preselected</strong>}
                    </td>
                    <td className="repo-files-size">{f.size !== null ? formatBytes(f.size) : <span className="muted">unknown</span>}</td>
                    <td>
                      <button type="button" className={`button small${isChosen ? '' : ' ghost'}`} disabled={busy} onClick={() => onLoad(f.path)}>
                        Load<span className="sr-only"> {f.path}</span>
                      </button>
                    </td>
                  </tr>
                );
              }),
            )}
          </tbody>
        </table>
      )}
    </div>
  );
}
