import type { Model } from '../schemas/models.js';
import { TfServingError } from './tf-serving-error.js';

/**
 * How a model looks to a TF Serving client: one version ("1", always AVAILABLE: a model is listed only once it
 * is complete), one input and two signatures, printed as TF Serving's REST API prints its protobufs
 * (tensorflow_serving/model_servers/http_rest_api_util.cc: snake_case field names, int64 sizes as strings).
 *
 * - input `pixels`: DT_FLOAT [-1, imageSize, imageSize, 3], RGB 0..255, the tensor the ONNX export takes.
 *   `{"b64": …}` image files are accepted in its place and decoded as training decoded (see README).
 * - `serving_default`: output `probabilities` [-1, classes], the softmax in class index order (`features` for
 *   a base model without classifier, which has nothing else to give).
 * - `features`: output `features` [-1, featureDim], the avg_pool embedding /features returns.
 */

export const servedVersion = '1';
export const defaultSignatureName = 'serving_default';
export const featuresSignatureName = 'features';
export const inputName = 'pixels';

export type OutputName = 'probabilities' | 'features';

/** One entry of model_version_status. */
export const availableVersion = {
  version: servedVersion,
  state: 'AVAILABLE',
  status: { error_code: 'OK', error_message: '' },
} as const;

/** GetModelStatusResponse. */
export function modelStatus() {
  return { model_version_status: [availableVersion] };
}

/** Signature name -> the one output it returns. */
export function signaturesOf(model: Model): Record<string, OutputName> {
  return {
    [defaultSignatureName]: model.classes.length > 0 ? 'probabilities' : 'features',
    [featuresSignatureName]: 'features',
  };
}

/** The output of `signatureName` ('' or absent: serving_default); TF Serving's 400 for an unknown one. */
export function outputOf(model: Model, signatureName: string | undefined): OutputName {
  const name = signatureName || defaultSignatureName;
  const output = signaturesOf(model)[name];
  if (!output) throw new TfServingError(400, `Serving signature name: "${name}" not found in signature def`);
  return output;
}

function tensorInfo(name: string, dims: number[]) {
  return {
    dtype: 'DT_FLOAT',
    tensor_shape: { dim: dims.map((size) => ({ size: String(size), name: '' })), unknown_rank: false },
    name: `${name}:0`,
  };
}

/** GetModelMetadataResponse with its signature_def map, as TF Serving's REST API prints it. */
export function modelMetadata(model: Model) {
  const widths: Record<OutputName, number> = { probabilities: model.classes.length, features: model.featureDim };
  const signatureDef = Object.fromEntries(
    Object.entries(signaturesOf(model)).map(([name, output]) => [
      name,
      {
        inputs: { [inputName]: tensorInfo(inputName, [-1, model.imageSize, model.imageSize, 3]) },
        outputs: { [output]: tensorInfo(output, [-1, widths[output]]) },
        method_name: 'tensorflow/serving/predict',
        defaults: {},
      },
    ]),
  );
  return {
    model_spec: { name: model.id, signature_name: '', version: servedVersion },
    metadata: { signature_def: { signature_def: signatureDef } },
  };
}
