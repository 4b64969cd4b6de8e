import { useEffect, useId, useRef, useState, type DragEvent } from 'react';
import { ROLE_HINT, WORKING_SIZES, type FitMode } from '../../core/images/dataset';
import { MAX_SIDE_DEFAULT } from '../../core/images/reasons';
import { useEncoderStore } from '../encoder/encoder-store';
import { DatasetCard } from './DatasetCard';
import { addFolders } from './images-service';
import { useImagesStore } from './images-store';
import { collectDrop, fromFileList, hasDirectoryPicker, pickDirectory, type CollectedDrop } from './sources';
import { errorText } from '../../core/runtime/error-text';

export function ImagesStep() {
  const datasets = useImagesStore((s) => s.datasets);
  return (
    <div className="stack">
      <p className="lead">
        Add image folders and give each a role. A clean reference folder trains the decoder and calibrates the threshold; a suspect
        folder is scanned; a known-poisoned folder is optional and only measures detection quality. Images stay on this computer.
      </p>
      <FolderAdder />
      {datasets.length > 0 && (
        <section className="stack" aria-label="Image folders">
          {datasets.map((d) => (
            <DatasetCard key={d.id} dataset={d} />
          ))}
        </section>
      )}
    </div>
  );
}

function FolderAdder() {
  const [dragging, setDragging] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const [collecting, setCollecting] = useState(false);
  const dirInput = useRef<HTMLInputElement>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const sizeId = useId();
  const fitId = useId();
  const { workingSize, setWorkingSize, fit, setFit, resizePlan } = useImagesStore();
  const planApplies = resizePlan !== null && resizePlan.width === workingSize && resizePlan.height === workingSize;
  const encoderSize = useEncoderStore((s) => s.encoder?.preprocessing?.width ?? null);

  // React does not know the non-standard webkitdirectory attribute; set it on the element.
  useEffect(() => {
    dirInput.current?.setAttribute('webkitdirectory', '');
    dirInput.current?.setAttribute('directory', '');
  }, []);

  const accept = (collected: CollectedDrop | null) => {
    if (!collected) return;
    const folders = collected.folders.filter((f) => f.files.length > 0);
    const skipped = collected.failures.length > 0 ? ` The browser would not hand over ${collected.failures.length} item(s): ${collected.failures.slice(0, 5).join(', ')}.` : '';
    if (folders.length === 0) {
      setProblem(`Nothing to add: the folder is empty.${skipped}`);
      return;
    }
    setProblem(skipped ? skipped.trim() : null);
    void addFolders(folders);
  };

  const run = (work: Promise<CollectedDrop | null>) => {
    setCollecting(true);
    work
      .then(accept)
      .catch((err: unknown) => setProblem(`Could not read what was added: ${errorText(err)}`))
      .finally(() => setCollecting(false));
  };

  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setDragging(false);
    run(collectDrop(e.dataTransfer));
  };

  const onInput = (input: HTMLInputElement | null, looseName: string) => {
    if (!input?.files || input.files.length === 0) return;
    const folders = fromFileList(input.files, looseName);
    input.value = '';
    run(Promise.resolve({ folders, failures: [] }));
  };

  return (
    <section className="card" aria-labelledby="add-images-title">
      <h3 id="add-images-title">Add image folders</h3>
      <div
        className={`drop-zone${dragging ? ' dragging' : ''}`}
        data-testid="images-drop"
        onDragOver={(e) => {
          e.preventDefault();
          e.dataTransfer.dropEffect = 'copy';
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={onDrop}
      >
        <p>Drop folders here (sub-folders included). Each folder becomes one dataset.</p>
        <p className="hint">PNG, JPEG, WebP, GIF, BMP and AVIF; other files are listed with the reason they were skipped.</p>
        <div className="row images-buttons">
          <button
            type="button"
            className="button"
            onClick={() => (hasDirectoryPicker() ? run(pickDirectory()) : dirInput.current?.click())}
          >
            Choose folder…
          </button>
          {hasDirectoryPicker() && (
            <button type="button" className="button ghost" onClick={() => dirInput.current?.click()}>
              Choose folder (upload)…
            </button>
          )}
          <button type="button" className="button ghost" onClick={() => fileInput.current?.click()}>
            Choose files…
          </button>
        </div>
        <input ref={dirInput} type="file" multiple hidden data-testid="images-folder-input" aria-label="Choose a folder of images" onChange={(e) => onInput(e.currentTarget, 'Selected folder')} />
        <input
          ref={fileInput}
          type="file"
          multiple
          hidden
          accept="image/png,image/jpeg,image/webp,image/gif,image/bmp,image/avif,.png,.jpg,.jpeg,.webp,.gif,.bmp,.avif"
          data-testid="images-file-input"
          aria-label="Choose image files"
          onChange={(e) => onInput(e.currentTarget, 'Selected files')}
        />
      </div>
      <div className="row">
        <label htmlFor={sizeId}>Working resolution</label>
        {planApplies ? (
          <strong id={sizeId} data-testid="images-working-size">{workingSize}×{workingSize} (the encoder’s input)</strong>
        ) : (
          <select id={sizeId} className="select" value={workingSize} onChange={(e) => setWorkingSize(Number(e.target.value))}>
            {WORKING_SIZES.map((s) => (
              <option key={s} value={s}>
                {s}×{s}{s === 32 ? ' (decoder default)' : ''}
              </option>
            ))}
          </select>
        )}
        <label htmlFor={fitId}>Non-square images</label>
        <select id={fitId} className="select" value={fit} disabled={planApplies} onChange={(e) => setFit(e.target.value as FitMode)}>
          <option value="crop">centre square crop</option>
          <option value="stretch">squash to square</option>
        </select>
      </div>
      <p className="hint">
        Images are stored at this size only (never full size), in chunks in this browser’s storage, and normalised with the encoder’s
        statistics when used. Applies to folders added from now on. Images over {MAX_SIDE_DEFAULT} px are refused.
        {encoderSize !== null && encoderSize !== workingSize && ` The loaded encoder takes ${encoderSize}×${encoderSize} input.`}
      </p>
      {planApplies && (
        <p className="hint" data-testid="images-resize-plan">
          Photos go through the encoder’s own preprocessing at full resolution: {resizePlan.description}.
        </p>
      )}
      {collecting && <p role="status">Reading the folder…</p>}
      {problem && <p className="notice" role="alert">{problem}</p>}
      <details className="hint">
        <summary>Roles</summary>
        <ul>
          <li>Clean reference — {ROLE_HINT.clean}</li>
          <li>Suspect — {ROLE_HINT.suspect}</li>
          <li>Known poisoned — {ROLE_HINT.poisoned}</li>
        </ul>
      </details>
    </section>
  );
}
