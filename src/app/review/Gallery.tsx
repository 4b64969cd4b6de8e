// The virtualised gallery: only the visible rows of cards are in the DOM, so 20,000 images scroll
// like 20. A listbox: the container keeps focus, the active card is aria-activedescendant.
import { useVirtualizer } from '@tanstack/react-virtual';
import { memo, useEffect, useLayoutEffect, useRef, useState, type KeyboardEvent } from 'react';
import type { ScanRow, Tag } from '../scan/scan-store';
import { keyOf } from './review-model';
import { Thumb } from './Thumb';

const CELL_W = 136;
const ROW_H = 184;

export function Gallery({ rows, threshold, tags, active, onActivate, onOpen, label }: {
  rows: readonly ScanRow[];
  threshold: number;
  tags: Readonly<Record<string, Tag>>;
  active: number;
  onActivate: (index: number) => void;
  onOpen: (index: number) => void;
  label: string;
}) {
  const scrollRef = useRef<HTMLDivElement>(null);
  const [cols, setCols] = useState(6);
  useLayoutEffect(() => {
    const el = scrollRef.current;
    if (!el) return;
    const update = () => setCols(Math.max(1, Math.floor((el.clientWidth - 8) / CELL_W)));
    update();
    const ro = new ResizeObserver(update);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  const rowCount = Math.ceil(rows.length / cols);
  const virtualizer = useVirtualizer({ count: rowCount, getScrollElement: () => scrollRef.current, estimateSize: () => ROW_H, overscan: 2 });
  useEffect(() => {
    if (active >= 0 && active < rows.length) virtualizer.scrollToIndex(Math.floor(active / cols), { align: 'auto' });
  }, [active, cols, rows.length, virtualizer]);

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    let next: number | null = null;
    if (e.key === 'ArrowRight') next = active + 1;
    else if (e.key === 'ArrowLeft') next = active - 1;
    else if (e.key === 'ArrowDown') next = active + cols;
    else if (e.key === 'ArrowUp') next = active - cols;
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = rows.length - 1;
    else if (e.key === 'PageDown') next = active + cols * 3;
    else if (e.key === 'PageUp') next = active - cols * 3;
    else if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      if (active >= 0) onOpen(active);
      return;
    }
    if (next === null) return;
    e.preventDefault();
    onActivate(Math.max(0, Math.min(rows.length - 1, next)));
  };

  return (
    <div
      ref={scrollRef} className="gallery" role="listbox" tabIndex={0} aria-label={label}
      aria-activedescendant={active >= 0 && active < rows.length ? `review-opt-${active}` : undefined}
      onKeyDown={onKeyDown} data-testid="gallery"
    >
      <div style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
        {virtualizer.getVirtualItems().map((vr) => (
          <div key={vr.key} role="presentation" className="gallery-row" style={{ transform: `translateY(${vr.start}px)`, height: ROW_H, gridTemplateColumns: `repeat(${cols}, ${CELL_W - 8}px)` }}>
            {rows.slice(vr.index * cols, vr.index * cols + cols).map((r, c) => {
              const index = vr.index * cols + c;
              return (
                <Card
                  key={keyOf(r)} row={r} index={index} setSize={rows.length} flagged={r.score > threshold} tag={tags[keyOf(r)]}
                  selected={index === active} onClick={() => { onActivate(index); onOpen(index); }}
                />
              );
            })}
          </div>
        ))}
      </div>
    </div>
  );
}

const Card = memo(function Card({ row, index, setSize, flagged, tag, selected, onClick }: {
  row: ScanRow;
  index: number;
  setSize: number;
  flagged: boolean;
  tag: Tag | undefined;
  selected: boolean;
  onClick: () => void;
}) {
  const name = row.path.split('/').pop() ?? row.path;
  const desc = `${row.path}, score ${row.score.toPrecision(4)}${flagged ? ', flagged' : ''}${tag ? `, tagged ${tag}` : ''}`;
  return (
    <div
      id={`review-opt-${index}`} role="option" aria-selected={selected} aria-posinset={index + 1} aria-setsize={setSize} aria-label={desc}
      className={`gallery-card${flagged ? ' flagged' : ''}${selected ? ' selected' : ''}`} onClick={onClick}
      data-testid="review-item" data-key={keyOf(row)} data-flagged={flagged} data-tag={tag ?? ''}
    >
      <Thumb datasetId={row.datasetId} slot={row.slot} />
      <span className="card-name" title={row.path}>{name}</span>
      <span className="card-score">{row.score.toPrecision(4)}</span>
      <span className="card-badges">
        {flagged && <span className="pill pill-flag">flagged</span>}
        {tag && <span className={`pill pill-${tag}`}>{tag}</span>}
      </span>
    </div>
  );
});
