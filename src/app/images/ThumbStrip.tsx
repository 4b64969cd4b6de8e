// Thumbnails, a page at a time: only the visible page's pixels are read from storage and drawn,
// so a 20,000-image dataset costs no more than a 200-image one.
import { useQuery } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import { chunkOfSlot, type ImageEntry } from '../../core/images/dataset';
import { rgbToRgba } from '../../core/images/pixels';
import { datasetStorage } from '../../core/workflow/dataset-storage';
import type { DatasetSummary } from './images-store';

const PAGE = 120;

interface ThumbPage {
  readonly thumbs: Uint8Array;
  readonly entries: readonly ImageEntry[];
}

async function readPage(d: DatasetSummary, from: number, count: number): Promise<ThumbPage> {
  const storage = datasetStorage();
  const first = chunkOfSlot(d.layout, from).chunk;
  const last = chunkOfSlot(d.layout, from + count - 1).chunk;
  const entries: ImageEntry[] = [];
  for (let c = first; c <= last; c++) entries.push(...(await storage.readEntries(d.id, c)));
  const thumbs = await storage.readThumbs(d.id, d.layout, from, count);
  return { thumbs, entries: entries.filter((e) => e.slot >= from && e.slot < from + count) };
}

export function ThumbStrip({ dataset: d }: { dataset: DatasetSummary }) {
  const [page, setPage] = useState(0);
  const total = d.counts.images;
  const pages = Math.ceil(total / PAGE);
  const from = Math.min(page, pages - 1) * PAGE;
  const count = Math.min(PAGE, total - from);
  const query = useQuery({
    queryKey: ['thumbs', d.id, d.chunks, from, count],
    queryFn: () => readPage(d, from, count),
    staleTime: Infinity,
    gcTime: 10_000,
    retry: false,
  });
  return (
    <div className="thumbs" data-testid="thumb-strip">
      <div className="row thumbs-head">
        <span role="status" aria-live="polite">
          Images {(from + 1).toLocaleString('en')}–{(from + count).toLocaleString('en')} of {total.toLocaleString('en')}
        </span>
        {pages > 1 && (
          <span className="row-tight">
            <button type="button" className="button ghost small" disabled={page === 0} onClick={() => setPage((p) => p - 1)}>
              Previous
            </button>
            <button type="button" className="button ghost small" disabled={page >= pages - 1} onClick={() => setPage((p) => p + 1)}>
              Next
            </button>
          </span>
        )}
      </div>
      {query.error && <p className="error" role="alert">{query.error.message}</p>}
      {query.data && (
        <ul className="thumb-grid" aria-label={`Thumbnails of ${d.name}`}>
          {query.data.entries.map((e, i) => (
            <Thumb key={e.slot} entry={e} pixels={query.data.thumbs} index={i} size={d.layout.thumbSize} />
          ))}
        </ul>
      )}
    </div>
  );
}

function Thumb({ entry, pixels, index, size }: { entry: ImageEntry; pixels: Uint8Array; index: number; size: number }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const ctx = ref.current?.getContext('2d');
    if (!ctx) return;
    const per = size * size * 3;
    ctx.putImageData(new ImageData(rgbToRgba(pixels.subarray(index * per, (index + 1) * per)) as Uint8ClampedArray<ArrayBuffer>, size, size), 0, 0);
  }, [pixels, index, size]);
  const label = `${entry.path} (${entry.width}×${entry.height}${entry.duplicateOf !== null ? ', duplicate' : ''})`;
  return (
    <li className={entry.duplicateOf !== null ? 'thumb duplicate' : 'thumb'}>
      <canvas ref={ref} width={size} height={size} role="img" aria-label={label} title={label} />
    </li>
  );
}
