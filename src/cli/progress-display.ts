import type { TrainingProgressEvent } from '../training/progress-events.js';

/**
 * Shows training progress on a stream: on a TTY a progress bar rewritten in place (at most every 100 ms)
 * plus one line per epoch; otherwise plain lines for stages, phases and epochs only (logs stay readable).
 */
export class ProgressDisplay {
  private lastDraw = 0;
  private barVisible = false;

  constructor(
    private readonly out: NodeJS.WriteStream | NodeJS.WritableStream,
    private readonly tty = Boolean((out as NodeJS.WriteStream).isTTY),
  ) {}

  handle(event: TrainingProgressEvent): void {
    switch (event.type) {
      case 'stage':
        this.line(`${event.stage.replace(/-/g, ' ')}${event.detail ? ` (${event.detail})` : ''}…`);
        break;
      case 'phase': {
        const s = event.summary;
        this.line(
          `phase ${event.phase}: ${s.epochs} epochs from ${s.startEpoch}, batch ${s.batchSize}, lr ${s.learningRate}, ` +
            `BN ${s.bnMode}${s.unfreeze ? `, unfreeze ${s.unfreeze}` : ''}, ${s.parameters.trainable.toLocaleString('en')} ` +
            `trainable parameters, ${s.trainImages} train / ${s.valImages} val images${s.featureCache ? ', feature cache' : ''}`,
        );
        break;
      }
      case 'batch':
        if (this.tty) this.bar(event);
        break;
      case 'epoch': {
        const val =
          event.valLoss === null
            ? ''
            : `  val_loss ${event.valLoss.toFixed(4)}  val_acc ${event.valAccuracy!.toFixed(3)}`;
        this.line(
          `${event.phase} epoch ${event.epoch}/${event.epochs}  loss ${event.loss.toFixed(4)}  acc ${event.accuracy.toFixed(3)}` +
            `${val}  ${(event.durationMs / 1000).toFixed(1)}s  ${event.imagesPerSecond.toFixed(1)} img/s`,
        );
        break;
      }
    }
  }

  /** Ends a bar line in progress, so later output starts on a fresh line. */
  finish(): void {
    if (this.barVisible) this.out.write('\n');
    this.barVisible = false;
  }

  private line(text: string): void {
    if (this.barVisible) this.out.write('\r\x1b[2K');
    this.barVisible = false;
    this.out.write(`${text}\n`);
  }

  private bar(event: Extract<TrainingProgressEvent, { type: 'batch' }>): void {
    const now = Date.now();
    if (now - this.lastDraw < 100 && event.batch < event.batches) return;
    this.lastDraw = now;
    const width = 24;
    const filled = Math.round((event.batch / Math.max(1, event.batches)) * width);
    const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
    this.out.write(
      `\r\x1b[2K${event.phase} epoch ${event.epoch} ${bar} ${event.batch}/${event.batches}  loss ${event.loss.toFixed(4)}`,
    );
    this.barVisible = true;
  }
}
