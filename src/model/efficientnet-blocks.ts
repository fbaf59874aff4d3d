import type { ArchitectureSpec } from './architectures.js';

/**
 * The block layout of keras.applications' EfficientNet, computed without touching tfjs. The model
 * builder, the weight manifest and the parameter summaries all derive from this one generator.
 */

/** Keras' DEFAULT_BLOCKS_ARGS (B0 widths and repeats, before scaling). */
const defaultBlocksArgs = [
  { kernelSize: 3, repeats: 1, filtersIn: 32, filtersOut: 16, expandRatio: 1, strides: 1 },
  { kernelSize: 3, repeats: 2, filtersIn: 16, filtersOut: 24, expandRatio: 6, strides: 2 },
  { kernelSize: 5, repeats: 2, filtersIn: 24, filtersOut: 40, expandRatio: 6, strides: 2 },
  { kernelSize: 3, repeats: 3, filtersIn: 40, filtersOut: 80, expandRatio: 6, strides: 2 },
  { kernelSize: 5, repeats: 3, filtersIn: 80, filtersOut: 112, expandRatio: 6, strides: 1 },
  { kernelSize: 5, repeats: 4, filtersIn: 112, filtersOut: 192, expandRatio: 6, strides: 2 },
  { kernelSize: 3, repeats: 1, filtersIn: 192, filtersOut: 320, expandRatio: 6, strides: 1 },
] as const;

const seRatio = 0.25;
const idSkip = true;
const depthDivisor = 8;
/** Keras' default `drop_connect_rate`. */
export const defaultDropConnectRate = 0.2;

export interface BlockSpec {
  /** Layer-name prefix without the trailing underscore, e.g. 'block2b'. */
  name: string;
  /** Stage number 1..7 (the digit in the name). */
  stage: number;
  /** Position inside the stage, 0 for 'a'. */
  index: number;
  filtersIn: number;
  filtersOut: number;
  kernelSize: number;
  strides: number;
  expandRatio: number;
  /** Channels after the expansion conv (filtersIn * expandRatio). */
  expandedFilters: number;
  /** Channels of se_reduce: max(1, int(filtersIn * se_ratio)). */
  seFilters: number;
  /** Drop-connect rate: drop_connect_rate * b / blocks. */
  dropRate: number;
  /** Whether the block ends with `<name>_add` (identity skip). */
  hasSkip: boolean;
  /** Whether `<name>_drop` exists (skip and dropRate > 0). */
  hasDrop: boolean;
}

export interface EfficientNetLayout {
  stemFilters: number;
  blocks: BlockSpec[];
  topFilters: number;
}

/** Keras' round_filters: scale by the width coefficient and round to a multiple of 8, never losing >10%. */
export function roundFilters(filters: number, widthCoefficient: number, divisor = depthDivisor): number {
  const scaled = filters * widthCoefficient;
  let rounded = Math.max(divisor, Math.floor(Math.trunc(scaled + divisor / 2) / divisor) * divisor);
  if (rounded < 0.9 * scaled) rounded += divisor;
  return rounded;
}

/** Keras' round_repeats. */
export function roundRepeats(repeats: number, depthCoefficient: number): number {
  return Math.ceil(depthCoefficient * repeats);
}

/**
 * Keras' imagenet_utils.correct_pad for a stride-2 'valid' conv on an input of the given spatial size:
 * ((top, bottom), (left, right)). Odd sizes pad symmetrically, even sizes one less on top/left.
 */
export function correctPad(inputSize: [number, number], kernelSize: number): [[number, number], [number, number]] {
  const correct = Math.floor(kernelSize / 2);
  const adjust = inputSize.map((d) => 1 - (d % 2));
  return [
    [correct - adjust[0]!, correct],
    [correct - adjust[1]!, correct],
  ];
}

/** Spatial size after a 'valid' conv with the given kernel and stride. */
export function validConvOutputSize(inputSize: number, kernelSize: number, stride: number): number {
  return Math.floor((inputSize - kernelSize) / stride) + 1;
}

export function efficientNetLayout(
  arch: Pick<ArchitectureSpec, 'widthCoefficient' | 'depthCoefficient'>,
  dropConnectRate = defaultDropConnectRate,
): EfficientNetLayout {
  const { widthCoefficient, depthCoefficient } = arch;
  const blockCount = defaultBlocksArgs.reduce((sum, a) => sum + roundRepeats(a.repeats, depthCoefficient), 0);
  const blocks: BlockSpec[] = [];
  let b = 0;
  defaultBlocksArgs.forEach((args, i) => {
    const stageIn = roundFilters(args.filtersIn, widthCoefficient);
    const filtersOut = roundFilters(args.filtersOut, widthCoefficient);
    const repeats = roundRepeats(args.repeats, depthCoefficient);
    for (let j = 0; j < repeats; j++) {
      // Only the first block of a stage strides and changes width.
      const filtersIn = j === 0 ? stageIn : filtersOut;
      const strides = j === 0 ? args.strides : 1;
      // Same expression order as Keras (drop_connect_rate * b / blocks) so the float is identical.
      const dropRate = (dropConnectRate * b) / blockCount;
      const hasSkip = idSkip && strides === 1 && filtersIn === filtersOut;
      blocks.push({
        name: `block${i + 1}${String.fromCharCode(97 + j)}`,
        stage: i + 1,
        index: j,
        filtersIn,
        filtersOut,
        kernelSize: args.kernelSize,
        strides,
        expandRatio: args.expandRatio,
        expandedFilters: filtersIn * args.expandRatio,
        seFilters: Math.max(1, Math.trunc(filtersIn * seRatio)),
        dropRate,
        hasSkip,
        hasDrop: hasSkip && dropRate > 0,
      });
      b++;
    }
  });
  return {
    stemFilters: roundFilters(32, widthCoefficient),
    blocks,
    topFilters: roundFilters(1280, widthCoefficient),
  };
}

/** Parses a block name like 'block6a' into its stage and index, or undefined for any other string. */
export function parseBlockName(name: string): { stage: number; index: number } | undefined {
  const match = /^block(\d+)([a-z])(?:_|$)/.exec(name);
  if (!match) return undefined;
  return { stage: Number(match[1]), index: match[2]!.charCodeAt(0) - 97 };
}
