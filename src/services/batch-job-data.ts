import type { BatchOptions, BatchResultFile } from '../schemas/batch-jobs.js';

/** Where a batch job reads its images: an uploaded dataset, or an archive uploaded with the job. */
export type BatchSource = { type: 'dataset'; datasetId: string } | { type: 'upload' };

/** What the api puts in a BullMQ `inference` job. */
export interface BatchJobData {
  modelId: string;
  source: BatchSource;
  options: BatchOptions;
  createdAt: string;
}

/** What the processor reports through job.updateProgress(), replaced as a whole. */
export interface BatchJobProgress {
  stage: string | null;
  processed: number;
  total: number | null;
  rows: number;
  skipped: number;
  /** Resident memory of the processor's process at the last report, and the highest seen during the job. */
  rssBytes: number | null;
  peakRssBytes: number | null;
}

/** What a completed batch job returns; also written as result.json beside the files. */
export interface BatchJobResult {
  rows: number;
  skipped: number;
  files: BatchResultFile[];
}

export function emptyBatchProgress(): BatchJobProgress {
  return { stage: null, processed: 0, total: null, rows: 0, skipped: 0, rssBytes: null, peakRssBytes: null };
}

/** Storage keys of a batch job: the uploaded images (until the job ends) and the committed result. */
export const batchKeys = {
  root: (id: string) => `batch-jobs/${id}`,
  input: (id: string) => `batch-jobs/${id}/input`,
  result: (id: string) => `batch-jobs/${id}/result`,
};
