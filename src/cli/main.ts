#!/usr/bin/env node
import { DatasetError } from '../data/dataset-error.js';
import { DomainError } from '../errors/domain-error.js';
import { CliUsageError } from './cli-errors.js';
import { featuresCommand, featuresUsage, predictCommand, predictUsage } from './inference-commands.js';
import { trainCommand } from './train-command.js';
import { trainUsage } from './train-options.js';

/** effnet-tl: train | predict | features. Exit codes: 0 ok, 1 failure, 2 bad command line, 130 interrupted. */

const usage = `Usage: effnet-tl <command> [options]

Commands:
  train <dataset-dir> --out <model-dir>   two-phase transfer learning on a folder of images
  predict <model-dir> <image>...          top-k classes of images, as JSON
  features <model-dir> <image>...         avg_pool feature vectors, as JSON

Run 'effnet-tl <command> --help' for the options of a command.`;

const commands: Record<string, { run: (args: string[]) => Promise<number>; usage: string }> = {
  train: { run: trainCommand, usage: trainUsage },
  predict: { run: predictCommand, usage: predictUsage },
  features: { run: featuresCommand, usage: featuresUsage },
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage}\n`);
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`effnet-tl: unknown command '${name}'\n\n${usage}\n`);
    return 2;
  }
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(args);
  } catch (error) {
    if (error instanceof CliUsageError) {
      process.stderr.write(`effnet-tl ${name}: ${error.message}\n\n${command.usage}\n`);
      return 2;
    }
    if (error instanceof DomainError || error instanceof DatasetError) {
      process.stderr.write(`effnet-tl ${name}: ${error.message}\n`);
      return 1;
    }
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`effnet-tl ${name} failed: ${message}\n`);
    return 1;
  }
}

const code = await main(process.argv.slice(2));
// The wasm backend keeps handles open; exit explicitly once output is flushed.
process.exitCode = code;
process.stdout.write('', () => process.exit(code));
