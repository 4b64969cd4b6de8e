// A stored image's thumbnail on a canvas (Gallery cards, a cluster's example photos).
import { useEffect, useRef, useState } from 'react';
import { rgbToRgba } from '../../core/images/pixels';
import { readThumb } from './review-service';

/** `label` names the image for screen readers; without it the thumbnail is decorative (its card names it). */
export function Thumb({ datasetId, slot, className = 'card-thumb', label, testId }: { datasetId: string; slot: number; className?: string; label?: string; testId?: string }) {
  const ref = useRef<HTMLCanvasElement>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let live = true;
    readThumb(datasetId, slot).then(
      ({ rgb, size }) => {
        const canvas = ref.current;
        if (!live || !canvas) return;
        canvas.width = size;
        canvas.height = size;
        canvas.getContext('2d')?.putImageData(new ImageData(rgbToRgba(rgb) as Uint8ClampedArray<ArrayBuffer>, size, size), 0, 0);
        canvas.dataset['drawn'] = 'true';
      },
      () => live && setFailed(true),
    );
    return () => {
      live = false;
    };
  }, [datasetId, slot]);
  if (failed) return <span className="thumb-missing">no pixels</span>;
  return label ? <canvas ref={ref} className={className} role="img" aria-label={label} data-testid={testId} /> : <canvas ref={ref} className={className} aria-hidden="true" data-testid={testId} />;
}
