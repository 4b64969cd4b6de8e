// The `dede` command line: the same core as the app, on onnxruntime-node.
import { UsageError } from './args';
import { CALIBRATE_HELP, calibrateCommand } from './commands/calibrate';
import { MERGE_HELP, mergeCommand } from './commands/merge';
import { SCAN_HELP, scanCommand } from './commands/scan';
import { TRAIN_HELP, trainCommand } from './commands/train';
import { errorText } from '../core/runtime/error-text';

const HELP = `dede — find backdoor-triggered images for a self-supervised image encoder (DeDe, CVPR 2025)

Usage:
  dede train     --encoder E.onnx --images CLEAN_DIR --out decoder.onnx [options]
  dede calibrate --encoder E.onnx --decoder D.onnx --images CLEAN_DIR --out calib.json [--fpr 0.05 | --k 3]
  dede scan      --encoder E.onnx --decoder D.onnx --calibration calib.json --images DIR --out report.json|.csv
  dede scan      … --shard I/N --out part-I.jsonl      (one shard of the folder, resumable; I = 0…N−1)
  dede merge     part-*.jsonl --out report.json|.csv   (the shards' parts as one report)

Run "dede <command> --help" for a command's options.
`;

const COMMANDS: Record<string, { help: string; run: (argv: readonly string[]) => Promise<void> }> = {
  train: { help: TRAIN_HELP, run: trainCommand },
  calibrate: { help: CALIBRATE_HELP, run: calibrateCommand },
  scan: { help: SCAN_HELP, run: scanCommand },
  merge: { help: MERGE_HELP, run: mergeCommand },
};

export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(HELP);
    return name ? 0 : 1;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`Unknown command "${name}".\n\n${HELP}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(command.help);
    return 0;
  }
  try {
    await command.run(rest);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`dede ${name}: ${err.message}\n\n${command.help}`);
      return 2;
    }
    process.stderr.write(`dede ${name}: ${errorText(err)}\n`);
    return 1;
  }
}
