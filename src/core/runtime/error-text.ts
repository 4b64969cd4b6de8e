// The one way a caught value becomes text for a message: an Error's message, a thrown string as it
// is, anything else as JSON (a plain object from a worker or ONNX Runtime says more that way than
// "[object Object]").

export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  try {
    return JSON.stringify(err) ?? String(err);
  } catch {
    return String(err);
  }
}
