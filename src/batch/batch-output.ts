import path from 'node:path';
import { l2Normalized, toPrediction } from '../inference/prediction-format.js';
import type { BatchOptions, BatchResultFile } from '../schemas/batch-jobs.js';
import type { BatchImage } from './batch-images.js';
import { JsonlWriter } from './jsonl-writer.js';
import { NpyWriter } from './npy-writer.js';
import { ParquetRowsWriter, type ParquetRow } from './parquet-rows-writer.js';

export interface BatchOutputOptions extends Pick<BatchOptions, 'output' | 'format' | 'normalize' | 'topK'> {
  /** A fresh directory (under DATA_DIR/tmp) that is renamed into place once the output is complete. */
  dir: string;
  classes: string[];
  featureDim: number;
  /** Rows expected (the images found); the npy header is written for it and corrected if images fail. */
  expectedRows: number;
}

/** One forward pass: its images (in row order) and the model's outputs, row-major. */
export interface BatchChunk {
  images: readonly BatchImage[];
  probabilities: Float32Array;
  features: Float32Array;
}

/**
 * The files of a batch job's result, written as rows arrive: `manifest.jsonl` (row, path, class), the rows in
 * the chosen format, and `skipped.jsonl` (images that could not be decoded, with the reason). Row i of every
 * file is line i of the manifest. Values are exactly what /features and /predict answer for the same image:
 * raw or L2-normalised avg_pool features, softmax probabilities, top-k labels.
 */
export class BatchOutput {
  private rows = 0;
  private skippedImages = 0;

  private constructor(
    private readonly options: BatchOutputOptions,
    private readonly manifest: JsonlWriter,
    private readonly skipped: JsonlWriter,
    private readonly npyFeatures: NpyWriter | undefined,
    private readonly npyProbabilities: NpyWriter | undefined,
    private readonly jsonl: JsonlWriter | undefined,
    private readonly parquet: ParquetRowsWriter | undefined,
  ) {}

  static async open(options: BatchOutputOptions): Promise<BatchOutput> {
    const file = (name: BatchResultFile) => path.join(options.dir, name);
    const { output, format } = options;
    const wantsFeatures = output !== 'predictions';
    const wantsPredictions = output !== 'features';
    const opened: Array<{ abandon(): Promise<void> }> = [];
    const track = async <T extends { abandon(): Promise<void> }>(writer: Promise<T>) => {
      const w = await writer;
      opened.push(w);
      return w;
    };
    try {
      const manifest = await track(JsonlWriter.create(file('manifest.jsonl')));
      const skipped = await track(JsonlWriter.create(file('skipped.jsonl')));
      const npy = format === 'npy';
      const npyFeatures =
        npy && wantsFeatures
          ? await track(NpyWriter.create(file('features.npy'), options.featureDim, options.expectedRows))
          : undefined;
      const npyProbabilities =
        npy && wantsPredictions
          ? await track(NpyWriter.create(file('probabilities.npy'), options.classes.length, options.expectedRows))
          : undefined;
      const jsonl = format === 'jsonl' ? await track(JsonlWriter.create(file('results.jsonl'))) : undefined;
      const parquet =
        format === 'parquet'
          ? new ParquetRowsWriter(file('results.parquet'), { predictions: wantsPredictions, features: wantsFeatures })
          : undefined;
      return new BatchOutput(options, manifest, skipped, npyFeatures, npyProbabilities, jsonl, parquet);
    } catch (error) {
      await Promise.all(opened.map((w) => w.abandon()));
      throw error;
    }
  }

  get rowCount(): number {
    return this.rows;
  }

  get skippedCount(): number {
    return this.skippedImages;
  }

  async write(chunk: BatchChunk): Promise<void> {
    const { output, normalize, topK, classes, featureDim } = this.options;
    const n = chunk.images.length;
    const first = this.rows;
    const wantsFeatures = output !== 'predictions';
    const wantsPredictions = output !== 'features';
    const featureRow = (i: number): number[] => {
      const values = chunk.features.subarray(i * featureDim, (i + 1) * featureDim);
      return normalize === 'l2' ? l2Normalized(values) : Array.from(values);
    };
    const probabilityRow = (i: number) => chunk.probabilities.subarray(i * classes.length, (i + 1) * classes.length);

    await this.manifest.append(
      chunk.images.map((image, i) => ({ row: first + i, path: image.path, class: image.class })),
    );
    if (this.npyFeatures) {
      await this.npyFeatures.append(
        normalize === 'l2' ? normalizedRows(chunk.features, n, featureDim) : chunk.features.subarray(0, n * featureDim),
      );
    }
    if (this.npyProbabilities) await this.npyProbabilities.append(chunk.probabilities.subarray(0, n * classes.length));
    if (this.jsonl) {
      await this.jsonl.append(
        chunk.images.map((image, i) => ({
          row: first + i,
          path: image.path,
          class: image.class,
          ...(wantsPredictions ? { prediction: toPrediction(probabilityRow(i), classes, topK) } : {}),
          ...(wantsFeatures ? { features: featureRow(i) } : {}),
        })),
      );
    }
    if (this.parquet) {
      await this.parquet.append(
        chunk.images.map((image, i): ParquetRow => {
          const prediction = wantsPredictions ? toPrediction(probabilityRow(i), classes, topK) : undefined;
          return {
            row: first + i,
            path: image.path,
            class: image.class,
            ...(prediction
              ? { label: prediction.label, probability: prediction.probability, topK: prediction.topK }
              : {}),
            ...(wantsFeatures ? { features: featureRow(i) } : {}),
          };
        }),
      );
    }
    this.rows += n;
  }

  /** Records images that produced no row. */
  async skip(images: ReadonlyArray<{ path: string; reason: string }>): Promise<void> {
    await this.skipped.append(images.map((image) => ({ path: image.path, reason: image.reason })));
    this.skippedImages += images.length;
  }

  /** Completes and syncs every file; returns their names. */
  async finish(): Promise<BatchResultFile[]> {
    const files: BatchResultFile[] = ['manifest.jsonl', 'skipped.jsonl'];
    await this.manifest.close();
    await this.skipped.close();
    if (this.npyFeatures) {
      await this.npyFeatures.close();
      files.push('features.npy');
    }
    if (this.npyProbabilities) {
      await this.npyProbabilities.close();
      files.push('probabilities.npy');
    }
    if (this.jsonl) {
      await this.jsonl.close();
      files.push('results.jsonl');
    }
    if (this.parquet) {
      await this.parquet.close();
      files.push('results.parquet');
    }
    return files;
  }

  /** Closes every file without finishing it; the caller removes the directory. */
  async abandon(): Promise<void> {
    await Promise.all(
      [this.manifest, this.skipped, this.npyFeatures, this.npyProbabilities, this.jsonl].map((w) => w?.abandon()),
    );
  }
}

/** Each row scaled to unit length, as /features?normalize=l2 answers (computed in double precision). */
function normalizedRows(features: Float32Array, n: number, dim: number): Float32Array {
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) out.set(l2Normalized(features.subarray(i * dim, (i + 1) * dim)), i * dim);
  return out;
}
