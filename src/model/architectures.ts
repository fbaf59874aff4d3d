/** The eight EfficientNet variants of keras.applications, with the constants Keras builds them from. */
export const architectureNames = [
  'efficientnet-b0',
  'efficientnet-b1',
  'efficientnet-b2',
  'efficientnet-b3',
  'efficientnet-b4',
  'efficientnet-b5',
  'efficientnet-b6',
  'efficientnet-b7',
] as const;

export type ArchitectureName = (typeof architectureNames)[number];

export interface ArchitectureSpec {
  name: ArchitectureName;
  /** Scales every layer's filter count (Keras' `width_coefficient`). */
  widthCoefficient: number;
  /** Scales every stage's block count (Keras' `depth_coefficient`). */
  depthCoefficient: number;
  /** The input size the ImageNet weights were trained at (Keras' `default_size`). */
  defaultImageSize: number;
  /** Rate of `top_dropout` before the classifier (Keras' `dropout_rate`). */
  dropoutRate: number;
  /** Width of `avg_pool`, i.e. of the feature vector. */
  featureDim: number;
  /** Parameters of the base (include_top=False) without the 7 constants of the `normalization` layer. */
  baseParams: number;
}

export const architectures: readonly ArchitectureSpec[] = [
  spec('efficientnet-b0', 1.0, 1.0, 224, 0.2, 1280, 4049564),
  spec('efficientnet-b1', 1.0, 1.1, 240, 0.2, 1280, 6575232),
  spec('efficientnet-b2', 1.1, 1.2, 260, 0.3, 1408, 7768562),
  spec('efficientnet-b3', 1.2, 1.4, 300, 0.3, 1536, 10783528),
  spec('efficientnet-b4', 1.4, 1.8, 380, 0.4, 1792, 17673816),
  spec('efficientnet-b5', 1.6, 2.2, 456, 0.4, 2048, 28513520),
  spec('efficientnet-b6', 1.8, 2.6, 528, 0.5, 2304, 40960136),
  spec('efficientnet-b7', 2.0, 3.1, 600, 0.5, 2560, 64097680),
];

function spec(
  name: ArchitectureName,
  widthCoefficient: number,
  depthCoefficient: number,
  defaultImageSize: number,
  dropoutRate: number,
  featureDim: number,
  baseParams: number,
): ArchitectureSpec {
  return Object.freeze({
    name,
    widthCoefficient,
    depthCoefficient,
    defaultImageSize,
    dropoutRate,
    featureDim,
    baseParams,
  });
}

export class UnknownArchitectureError extends Error {
  constructor(readonly requested: string) {
    super(
      `Unknown architecture '${requested}': expected one of ${architectureNames.join(', ')} (or the short form b0..b7)`,
    );
    this.name = 'UnknownArchitectureError';
  }
}

/** Looks an architecture up by its full name ('efficientnet-b3') or short name ('b3'), case-insensitively. */
export function getArchitecture(name: string): ArchitectureSpec {
  const normalized = name.trim().toLowerCase();
  const full = normalized.startsWith('efficientnet-') ? normalized : `efficientnet-${normalized}`;
  const found = architectures.find((a) => a.name === full);
  if (!found) throw new UnknownArchitectureError(name);
  return found;
}

export function isArchitectureName(name: string): name is ArchitectureName {
  return (architectureNames as readonly string[]).includes(name);
}
