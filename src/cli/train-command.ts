import { rm } from 'node:fs/promises';
import { selectBackend } from '../compute/backend.js';
import { TrainingCancelledError, TrainingInterruptedError } from '../training/training-errors.js';
import { trainTwoPhase } from '../training/two-phase-trainer.js';
import { formatHistoryTable } from './history-table.js';
import { ProgressDisplay } from './progress-display.js';
import { parseTrainArgs } from './train-options.js';

/**
 * `effnet-tl train`: progress on stderr, the history table and artifact path on stdout. The first Ctrl-C
 * asks the trainer to stop after the current batch and save a checkpoint (exit 130, `--resume` continues);
 * a second one exits at once.
 */
export async function trainCommand(args: string[]): Promise<number> {
  const options = parseTrainArgs(args);
  const backend = await selectBackend(options.backend);
  const display = new ProgressDisplay(process.stderr);
  process.stderr.write(`backend ${backend.name}\n`);

  const interrupt = new AbortController();
  const onSigint = () => {
    if (interrupt.signal.aborted) process.exit(130);
    display.finish();
    process.stderr.write('Stopping after this batch and saving a checkpoint (Ctrl-C again to quit now)…\n');
    interrupt.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    const { artifactDir, metadata } = await trainTwoPhase({
      config: options.config,
      datasetDir: options.datasetDir,
      workDir: options.workDir,
      outputDir: options.outputDir,
      weightsDir: options.weightsDir,
      weightsVerify: options.weightsVerify,
      resume: options.resume,
      interrupt: interrupt.signal,
      onProgress: (event) => display.handle(event),
      log: (level, message) => {
        if (level === 'warn') {
          display.finish();
          process.stderr.write(`warning: ${message}\n`);
        }
      },
    });
    display.finish();
    if (!options.keepCheckpoint) await rm(options.workDir, { recursive: true, force: true });
    const skipped = metadata.dataset.skipped.length;
    process.stdout.write(`${formatHistoryTable(metadata.history)}\n\n`);
    if (metadata.evaluation) {
      process.stdout.write(
        `validation: accuracy ${metadata.evaluation.accuracy.toFixed(3)}, loss ${metadata.evaluation.loss.toFixed(4)} ` +
          `on ${metadata.evaluation.images} images\n`,
      );
    }
    if (skipped > 0) process.stdout.write(`skipped ${skipped} files (listed in metadata.json)\n`);
    process.stdout.write(`model saved to ${artifactDir}\n`);
    return 0;
  } catch (error) {
    display.finish();
    if (error instanceof TrainingInterruptedError) {
      process.stderr.write(`${error.message}\nRun the same command with --resume to continue.\n`);
      return 130;
    }
    if (error instanceof TrainingCancelledError) {
      process.stderr.write(`${error.message}\n`);
      return 130;
    }
    throw error;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
