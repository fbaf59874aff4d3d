// The ImageNet weights Keras publishes for keras.applications.EfficientNetB0..B7, as users mount them in
// WEIGHTS_DIR. Filenames and md5 hashes are copied from keras-team/keras
// `keras/src/applications/efficientnet.py` (BASE_WEIGHTS_PATH, WEIGHTS_HASHES: per model the tuple is
// (with-top hash, notop hash); files are `<model_name>.h5` and `<model_name>_notop.h5`).

export const kerasWeightsBaseUrl = 'https://storage.googleapis.com/keras-applications/';

export type EfficientNetVariant = 'b0' | 'b1' | 'b2' | 'b3' | 'b4' | 'b5' | 'b6' | 'b7';

export interface PublishedWeightsFile {
  variant: EfficientNetVariant;
  includeTop: boolean;
  fileName: string;
  md5: string;
}

const hashes: Record<EfficientNetVariant, { top: string; notop: string }> = {
  b0: { top: '902e53a9f72be733fc0bcb005b3ebbac', notop: '50bc09e76180e00e4465e1a485ddc09d' },
  b1: { top: '1d254153d4ab51201f1646940f018540', notop: '74c4e6b3e1f6a1eea24c589628592432' },
  b2: { top: 'b15cce36ff4dcbd00b6dd88e7857a6ad', notop: '111f8e2ac8aa800a7a99e3239f7bfb39' },
  b3: { top: 'ffd1fdc53d0ce67064dc6a9c7960ede0', notop: 'af6d107764bb5b1abb91932881670226' },
  b4: { top: '18c95ad55216b8f92d7e70b3a046e2fc', notop: 'ebc24e6d6c33eaebbd558eafbeedf1ba' },
  b5: { top: 'ace28f2a6363774853a83a0b21b9421a', notop: '38879255a25d3c92d5e44e04ae6cec6f' },
  b6: { top: '165f6e37dce68623721b423839de8be5', notop: '9ecce42647a20130c1f39a5d4cb75743' },
  b7: { top: '8c03f828fec3ef71311cd463b6759d99', notop: 'cbcfe4450ddf6f3ad90b1b398090fe4a' },
};

export const efficientNetVariants = Object.keys(hashes) as EfficientNetVariant[];

/** Every published file: B0..B7, with-top then notop. */
export const publishedWeightsFiles: readonly PublishedWeightsFile[] = efficientNetVariants.flatMap((variant) => [
  { variant, includeTop: true, fileName: `efficientnet${variant}.h5`, md5: hashes[variant].top },
  { variant, includeTop: false, fileName: `efficientnet${variant}_notop.h5`, md5: hashes[variant].notop },
]);

/** The published file of one variant ('b3', 'efficientnet-b3' or 'efficientnetb3'), or undefined. */
export function publishedWeightsFor(architectureName: string, includeTop: boolean): PublishedWeightsFile | undefined {
  const variant = variantOf(architectureName);
  return publishedWeightsFiles.find((f) => f.variant === variant && f.includeTop === includeTop);
}

/** The published file with this basename (e.g. `efficientnetb0_notop.h5`), or undefined. */
export function publishedWeightsByFileName(fileName: string): PublishedWeightsFile | undefined {
  return publishedWeightsFiles.find((f) => f.fileName === fileName);
}

export function variantOf(architectureName: string): EfficientNetVariant | undefined {
  const match = /^(?:efficientnet-?)?(b[0-7])$/i.exec(architectureName.trim());
  return match ? (match[1]!.toLowerCase() as EfficientNetVariant) : undefined;
}
