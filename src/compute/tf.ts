// The only module that imports tfjs. Everything else imports `tf` from here, so that the backend
// chosen in backend.ts is the one every model, layer and tensor uses.
import * as tf from '@tensorflow/tfjs';

export { tf };
export type { Tensor, Tensor1D, Tensor2D, Tensor3D, Tensor4D, Rank, LayersModel } from '@tensorflow/tfjs';
