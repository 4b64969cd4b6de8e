// Draws small pixel buffers (interleaved RGB or RGBA) on a canvas, scaled up crisply by CSS.
import { useEffect, useRef } from 'react';
import { rgbToRgba } from '../../core/images/pixels';

export function PixelCanvas({ rgb, rgba, size, label, className = 'px-canvas', testId }: {
  rgb?: Uint8Array | null;
  rgba?: Uint8ClampedArray | null;
  size: number;
  label: string;
  className?: string;
  testId?: string;
}) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const ctx = ref.current?.getContext('2d');
    if (!ctx) return;
    const data = rgba ?? (rgb ? rgbToRgba(rgb) : null);
    if (!data || data.length !== size * size * 4) {
      ctx.clearRect(0, 0, size, size);
      return;
    }
    ctx.putImageData(new ImageData(data as Uint8ClampedArray<ArrayBuffer>, size, size), 0, 0);
    ref.current!.dataset['drawn'] = 'true';
  }, [rgb, rgba, size]);
  return <canvas ref={ref} width={size} height={size} className={className} role="img" aria-label={label} data-testid={testId} />;
}
