// The encoder's embedding readout on the Encoder step: which output, pooled how, why, and the
// embedding size, with a select to change it. A model whose candidates nothing decides between
// shows the question and no choice until the user makes one.
import { useId } from 'react';
import { formatDims } from '../../core/onnx/inspect';
import { describePooling, formatReadoutFlag, readoutOptions, type EmbeddingPooling } from '../../core/onnx/readout';
import { useEncoderStore, type EncoderRecord } from './encoder-store';

export function ReadoutPicker({ encoder }: { encoder: EncoderRecord }) {
  const id = useId();
  const setReadout = useEncoderStore((s) => s.setReadout);
  const testRun = useEncoderStore((s) => s.testRun);
  if (!encoder.check.ok) return null;
  const candidates = encoder.check.candidates;
  const options = readoutOptions(candidates);
  const dimsOf = (output: string) => candidates.find((c) => c.output === output)?.dims;
  const label = (o: { output: string; pooling: EmbeddingPooling; dim: number | null }) => {
    const dims = dimsOf(o.output);
    return `${o.output} ${dims ? formatDims(dims) : ''}${o.pooling === 'none' ? '' : ` → ${describePooling(o.pooling)}`} → ${o.dim ?? '?'} values`;
  };
  const readout = encoder.readout;
  const size = readout?.dim ?? (testRun ? testRun.outputDims[1] : null) ?? null;
  const onChange = (value: string) => {
    const option = options.find((o) => formatReadoutFlag(o) === value);
    if (option) setReadout({ output: option.output, pooling: option.pooling });
  };
  return (
    <div className="readout" data-testid="readout-picker">
      <label htmlFor={id} className="field-inline">
        Embedding{' '}
        <select id={id} value={readout ? formatReadoutFlag(readout) : ''} onChange={(e) => onChange(e.target.value)} disabled={options.length < 2 && readout !== null}>
          {!readout && (
            <option value="" disabled>
              Choose the embedding output…
            </option>
          )}
          {options.map((o) => (
            <option key={formatReadoutFlag(o)} value={formatReadoutFlag(o)}>
              {label(o)}
            </option>
          ))}
        </select>
      </label>
      {readout ? (
        <p className="hint" data-testid="readout-reason">
          {size !== null ? `${size} values per image` : 'Size known after a Test run'} · {readout.reason}
        </p>
      ) : (
        <p className="error" role="alert" data-testid="readout-question">
          Choose the embedding: {encoder.readoutQuestion}
        </p>
      )}
    </div>
  );
}
