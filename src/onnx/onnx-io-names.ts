/** The names of the exported graph's input and outputs: the contract between the exporter and the engine. */
export const onnxInputName = 'pixels';
export const onnxProbabilitiesName = 'probabilities';
export const onnxFeaturesName = 'features';
