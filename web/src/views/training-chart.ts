import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { Job } from '../api-types.js';
import { h } from '../dom.js';

type History = Job['history'];

export interface ChartSpec {
  title: string;
  testId: string;
  train: (entry: History[number]) => number | null;
  val: (entry: History[number]) => number | null;
  /** Fixed y range (accuracy: 0..1); loss scales to its data. */
  range?: [number, number];
}

const colours = { train: '#1d4ed8', val: '#b45309', boundary: '#4b5563' };

/**
 * A training curve across both phases on one x axis (epochs counted through the job), training and validation,
 * with the phase boundary drawn as a dashed line: the layout of the article's figures.
 */
export class TrainingChart {
  readonly element: HTMLElement;
  private readonly plot: uPlot;
  private readonly observer: ResizeObserver;
  private headEpochs = 0;

  constructor(private readonly spec: ChartSpec) {
    this.element = h('figure', { class: 'chart', 'data-testid': spec.testId, role: 'img', 'aria-label': spec.title });
    const boundary = (u: uPlot) => {
      if (this.headEpochs <= 0) return;
      const x = Math.round(u.valToPos(this.headEpochs + 0.5, 'x', true));
      const { top, height } = u.bbox;
      const ctx = u.ctx;
      ctx.save();
      ctx.strokeStyle = colours.boundary;
      ctx.fillStyle = colours.boundary;
      ctx.setLineDash([6, 4]);
      ctx.lineWidth = devicePixelRatio;
      ctx.beginPath();
      ctx.moveTo(x, top);
      ctx.lineTo(x, top + height);
      ctx.stroke();
      ctx.font = `${12 * devicePixelRatio}px system-ui, sans-serif`;
      ctx.textBaseline = 'top';
      ctx.textAlign = 'right';
      ctx.fillText('head ', x, top + 4 * devicePixelRatio);
      ctx.textAlign = 'left';
      ctx.fillText(' fine-tune', x, top + 4 * devicePixelRatio);
      ctx.restore();
    };
    this.plot = new uPlot(
      {
        title: spec.title,
        width: 600,
        height: 240,
        scales: {
          x: { time: false, range: (_u, min, max) => [Math.min(0.5, min), Math.max(max + 0.5, 1.5)] },
          y: spec.range ? { range: spec.range } : { range: (_u, min, max) => [Math.min(0, min), max * 1.1 || 1] },
        },
        axes: [
          { label: 'epoch', stroke: '#1f2937', grid: { stroke: '#e5e7eb' }, incrs: [1, 2, 5, 10, 20, 50, 100] },
          { stroke: '#1f2937', grid: { stroke: '#e5e7eb' } },
        ],
        series: [
          { label: 'epoch' },
          { label: 'training', stroke: colours.train, width: 2, points: { show: true, size: 6 } },
          { label: 'validation', stroke: colours.val, width: 2, dash: [8, 4], points: { show: true, size: 6 } },
        ],
        legend: { live: false },
        hooks: { draw: [boundary] },
      },
      [[], [], []],
      this.element,
    );
    this.observer = new ResizeObserver(() => this.resize());
    this.observer.observe(this.element);
  }

  /** Plots the job's history; `headEpochs` places the phase boundary. */
  update(history: History, headEpochs: number): void {
    this.headEpochs = history.some((e) => e.phase === 'finetune') ? headEpochs : 0;
    const x = history.map((_e, i) => i + 1);
    this.plot.setData([x, history.map(this.spec.train), history.map(this.spec.val)]);
    const last = history.at(-1);
    if (last) {
      const val = this.spec.val(last);
      this.element.setAttribute(
        'aria-label',
        `${this.spec.title}: epoch ${history.length}, training ${this.spec.train(last)?.toFixed(3)}` +
          (val === null ? '' : `, validation ${val.toFixed(3)}`),
      );
    }
  }

  private resize() {
    const width = Math.floor(this.element.clientWidth);
    if (width > 0 && width !== this.plot.width) this.plot.setSize({ width, height: 240 });
  }

  destroy(): void {
    this.observer.disconnect();
    this.plot.destroy();
  }
}
