/** A gradient kernel on the wasm backend was asked for something it does not implement. */
export class WasmKernelUnsupportedError extends Error {
  constructor(
    readonly kernelName: string,
    readonly reason: string,
  ) {
    super(`wasm kernel ${kernelName}: ${reason}`);
    this.name = 'WasmKernelUnsupportedError';
  }
}

/** The backend handed to a wasm kernel does not look like tfjs-backend-wasm's BackendWasm. */
export class WasmBackendShapeError extends Error {
  constructor(readonly missing: string) {
    super(`the active tfjs backend is not the wasm backend this code was written for (missing ${missing})`);
    this.name = 'WasmBackendShapeError';
  }
}
