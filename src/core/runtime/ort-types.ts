// The ORT surface we rely on. onnxruntime-web and onnxruntime-node share onnxruntime-common's API,
// so core code takes the module as a value and works with either.
import type * as OrtWeb from 'onnxruntime-web';

export type Ort = typeof OrtWeb;
export type OrtSession = OrtWeb.InferenceSession;
export type OrtTensor = OrtWeb.Tensor;
export type OrtSessionOptions = OrtWeb.InferenceSession.SessionOptions;
