// A one-line terminal progress bar (stderr), redrawn in place; plain lines when not a TTY.

export interface ProgressLine {
  update(done: number, total: number | null, detail?: string): void;
  done(message: string): void;
}

function formatEta(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '';
  const s = Math.max(0, Math.round(seconds));
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s left` : `${s}s left`;
}

export function progressLine(label: string, stream: NodeJS.WriteStream = process.stderr): ProgressLine {
  const started = Date.now();
  let lastPlain = 0;
  const tty = stream.isTTY === true;
  return {
    update(done, total, detail = '') {
      const elapsed = (Date.now() - started) / 1000;
      const eta = total && done > 0 ? (elapsed / done) * (total - done) : null;
      const frac = total ? Math.min(1, done / total) : 0;
      const width = 24;
      const bar = total ? `[${'#'.repeat(Math.round(frac * width)).padEnd(width, '.')}] ${(frac * 100).toFixed(0).padStart(3)}%` : '';
      const text = `${label} ${bar} ${done}${total ? `/${total}` : ''} ${detail} ${formatEta(eta)}`.replace(/\s+/g, ' ').trim();
      if (tty) stream.write(`\r\x1b[2K${text}`);
      else if (Date.now() - lastPlain > 2000 || done === total) {
        lastPlain = Date.now();
        stream.write(`${text}\n`);
      }
    },
    done(message) {
      if (tty) stream.write('\r\x1b[2K');
      stream.write(`${label} ${message}\n`);
    },
  };
}
