/** The ways an ONNX export can fail, one class each, every message naming the layer or option at fault. */

export class UnsupportedLayerError extends Error {
  constructor(
    readonly layer: string,
    readonly className: string,
  ) {
    super(`ONNX export: layer '${layer}' of class ${className} has no ONNX translation`);
    this.name = 'UnsupportedLayerError';
  }
}

/** A supported layer class used with a configuration the exporter does not translate (e.g. channelsFirst). */
export class UnsupportedLayerConfigError extends Error {
  constructor(
    readonly layer: string,
    readonly className: string,
    detail: string,
  ) {
    super(`ONNX export: layer '${layer}' (${className}): ${detail}`);
    this.name = 'UnsupportedLayerConfigError';
  }
}

export class InvalidOnnxExportOptionsError extends Error {
  constructor(message: string) {
    super(`ONNX export: ${message}`);
    this.name = 'InvalidOnnxExportOptionsError';
  }
}

/** outputs: 'classifier' asked of a model that ends without a Dense classifier. */
export class MissingClassifierError extends Error {
  constructor(readonly model: string) {
    super(`ONNX export: model '${model}' has no Dense classifier output; export it with outputs: 'features-only'`);
    this.name = 'MissingClassifierError';
  }
}

/** The exporter produced a graph that fails its own consistency check: a bug in the exporter, never in the model. */
export class InvalidOnnxGraphError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `ONNX export produced an invalid graph: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? ' ...' : ''}`,
    );
    this.name = 'InvalidOnnxGraphError';
  }
}

/** The vendored onnx.proto could not be found or parsed. */
export class OnnxSchemaError extends Error {
  constructor(detail: string) {
    super(`ONNX schema: ${detail}`);
    this.name = 'OnnxSchemaError';
  }
}
