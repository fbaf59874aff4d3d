import { Type, type Static } from '@sinclair/typebox';

export const HealthSchema = Type.Object({ status: Type.Literal('ok') }, { $id: 'Health' });

export const ReadySchema = Type.Object(
  {
    status: Type.Union([Type.Literal('ready'), Type.Literal('unavailable')]),
    redis: Type.Union([Type.Literal('ok'), Type.Literal('unreachable')]),
    backend: Type.Object({
      name: Type.String({ description: 'node-gpu, node, wasm or cpu' }),
      version: Type.String(),
      skipped: Type.Array(Type.Object({ name: Type.String(), reason: Type.String() }), {
        description: 'Backends tried first, and why they did not load',
      }),
      threads: Type.Optional(
        Type.Integer({ minimum: 1, description: "wasm only: XNNPACK's thread count (TF_WASM_THREADS)" }),
      ),
      threadsFallback: Type.Optional(
        Type.String({ description: 'wasm only: why it runs on one thread although TF_WASM_THREADS asked for more' }),
      ),
    }),
    inference: Type.Object({
      engine: Type.String({ description: "Serves models that carry model.onnx: 'onnxruntime', or 'tfjs' without it" }),
      backend: Type.String({ description: 'tfjs backend of the inference processes' }),
    }),
  },
  { $id: 'Ready' },
);
export type Ready = Static<typeof ReadySchema>;
