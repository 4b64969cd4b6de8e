// `npm run fuzz`: builds the bad-input corpus in memory, runs it through the Node-side paths and
// prints the summary table; exits 1 when any case does not behave as expected. The browser half
// (decode workers, the encoder step) runs in e2e/fuzz.spec.ts.
import { imageCases, onnxCases } from './corpus';
import { drillCliReader, drillExports, drillImageTriage, drillMutations, drillOnnx, drillOversizedOnnx, formatTable } from './drill';

const images = await imageCases();
const onnx = onnxCases();
const rows = [...drillImageTriage(images), ...(await drillCliReader(images)), ...drillOnnx(onnx), ...drillOversizedOnnx(), ...drillMutations(images, onnx), ...drillExports()];
console.log(formatTable(rows));
process.exitCode = rows.every((r) => r.pass) ? 0 : 1;
