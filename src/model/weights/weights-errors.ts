// One error class per way a weights import can fail, so callers (CLI, API, worker) can tell them apart
// and the message alone says which file, layer and weight is at fault.

const formatShape = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

export class WeightsImportError extends Error {
  constructor(
    message: string,
    readonly file: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class WeightsFileNotFoundError extends WeightsImportError {
  constructor(
    file: string,
    readonly expectedFileName: string,
  ) {
    super(`Weights file not found: ${file} (expected a file named ${expectedFileName} there)`, file);
  }
}

export class WeightsChecksumError extends WeightsImportError {
  constructor(
    file: string,
    readonly expectedMd5: string,
    readonly actualMd5: string,
  ) {
    super(
      `md5 mismatch for ${file}: expected ${expectedMd5}, got ${actualMd5}. The file is corrupt, truncated or ` +
        `not the published one; set WEIGHTS_VERIFY=false to skip this check.`,
      file,
    );
  }
}

export class InvalidWeightsFileError extends WeightsImportError {
  constructor(
    file: string,
    readonly reason: string,
  ) {
    super(`${file} is not a usable weights file: ${reason}`, file);
  }
}

export class LayerMissingInFileError extends WeightsImportError {
  constructor(
    file: string,
    readonly layer: string,
  ) {
    super(`Layer ${layer} of the model has weights but ${file} holds none for it`, file);
  }
}

export class UnknownLayerInFileError extends WeightsImportError {
  constructor(
    file: string,
    readonly layer: string,
  ) {
    super(`${file} holds weights for layer ${layer}, which the model does not have`, file);
  }
}

export class WeightNamesMismatchError extends WeightsImportError {
  constructor(
    file: string,
    readonly layer: string,
    readonly onlyInModel: string[],
    readonly onlyInFile: string[],
  ) {
    const parts = [
      onlyInModel.length > 0 ? `missing in file: ${onlyInModel.join(', ')}` : '',
      onlyInFile.length > 0 ? `unknown to the model: ${onlyInFile.join(', ')}` : '',
    ].filter(Boolean);
    super(`Weights of layer ${layer} in ${file} do not match the model (${parts.join('; ')})`, file);
  }
}

export class WeightShapeMismatchError extends WeightsImportError {
  constructor(
    file: string,
    readonly layer: string,
    readonly weight: string,
    readonly expectedShape: readonly number[],
    readonly actualShape: readonly number[],
  ) {
    super(
      `Shape mismatch in ${file}, layer ${layer}, weight ${weight}: the model expects ` +
        `${formatShape(expectedShape)}, the file holds ${formatShape(actualShape)}`,
      file,
    );
  }
}

/** The shards of a tfjs model hold fewer (or more) bytes than its weightsManifest describes. */
export class WeightsDataSizeError extends WeightsImportError {
  constructor(
    file: string,
    readonly expectedBytes: number,
    readonly actualBytes: number,
    readonly shards: string[],
  ) {
    super(
      `Weight data of ${file} is ${actualBytes} bytes but its weightsManifest needs ${expectedBytes} bytes ` +
        `(shards: ${shards.join(', ')}); a shard is truncated or missing`,
      file,
    );
  }
}
