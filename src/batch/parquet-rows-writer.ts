import { open } from 'node:fs/promises';
import { fileWriter, ParquetWriter } from 'hyparquet-writer';
import type { LabelProbability } from '../inference/prediction-format.js';

/** One row of results.parquet; prediction and feature columns exist only when the job asked for them. */
export interface ParquetRow {
  row: number;
  path: string;
  class: string | null;
  label?: string;
  probability?: number;
  topK?: LabelProbability[];
  features?: number[];
}

type SchemaElement = ConstructorParameters<typeof ParquetWriter>[0]['schema'][number];

/**
 * Streams results.parquet one row group at a time: rows are buffered up to `rowGroupRows` (bounded memory),
 * then encoded and appended; the footer is written on close. hyparquet-writer writes synchronously in 1 MB
 * chunks, which is fine in the sandboxed processor (lock renewal runs in the worker's own process).
 */
export class ParquetRowsWriter {
  private readonly writer: ParquetWriter;
  private pending: ParquetRow[] = [];

  constructor(
    private readonly file: string,
    private readonly columns: { predictions: boolean; features: boolean },
    private readonly rowGroupRows = 256,
  ) {
    this.writer = new ParquetWriter({ writer: fileWriter(file), schema: this.schema(), createdBy: 'effnet-tl' });
  }

  async append(rows: readonly ParquetRow[]): Promise<void> {
    this.pending.push(...rows);
    if (this.pending.length >= this.rowGroupRows) await this.flush();
  }

  async close(): Promise<void> {
    await this.flush();
    await this.writer.finish();
    const handle = await open(this.file, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  private async flush(): Promise<void> {
    const rows = this.pending;
    if (rows.length === 0) return;
    this.pending = [];
    const column = <K extends keyof ParquetRow>(name: K) => ({ name, data: rows.map((r) => r[name] ?? null) });
    const columnData = [
      { name: 'row', data: Int32Array.from(rows, (r) => r.row) },
      column('path'),
      column('class'),
      ...(this.columns.predictions ? [column('label'), column('probability'), column('topK')] : []),
      ...(this.columns.features ? [column('features')] : []),
    ];
    await this.writer.write({ columnData, rowGroupSize: rows.length });
  }

  private schema(): SchemaElement[] {
    const required = 'REQUIRED' as const;
    const elements: SchemaElement[] = [
      { name: 'row', type: 'INT32', repetition_type: required },
      { name: 'path', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: required },
      { name: 'class', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
    ];
    if (this.columns.predictions) {
      elements.push(
        { name: 'label', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: required },
        { name: 'probability', type: 'FLOAT', repetition_type: required },
        { name: 'topK', type: 'BYTE_ARRAY', converted_type: 'JSON', repetition_type: required },
      );
    }
    if (this.columns.features) {
      elements.push(
        { name: 'features', repetition_type: required, converted_type: 'LIST', num_children: 1 },
        { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
        { name: 'element', type: 'FLOAT', repetition_type: required },
      );
    }
    const top = elements.filter((e) => !['list', 'element'].includes(e.name)).length;
    return [{ name: 'root', num_children: top }, ...elements];
  }
}
