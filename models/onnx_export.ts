/**
 * Writes a trained slot model as an ONNX graph (opset 13) with onnx-proto: the input is NCHW
 * (`input`, `[n, 3, size, size]`, what `slotCrops` produces), the outputs the `sku`, `count` and
 * (when the model has that head) `hand` probabilities. tfjs keeps NHWC, so convolution kernels are transposed from HWIO to OIHW and the
 * features are transposed back to NHWC before they are flattened into the dense layers.
 *
 * @example
 * ```ts
 * import { startTfjsWasm } from "./tfjs_backend.ts";
 * import { buildSlotModel } from "./slot_model.ts";
 * import { exportOnnx } from "./onnx_export.ts";
 *
 * await startTfjsWasm();
 * const bytes = exportOnnx(buildSlotModel({ size: 32, skuClasses: 13, seed: 1 }), { name: "demo" });
 * console.log(bytes.length);
 * ```
 *
 * @module
 */
import type * as tfl from "@tensorflow/tfjs-layers";
import onnxProto from "onnx-proto";

const { onnx } = onnxProto;
type Node = InstanceType<typeof onnx.NodeProto>;
type Tensor = InstanceType<typeof onnx.TensorProto>;

/** The softmax heads the exporter writes as outputs, in output order. */
const HEADS: readonly string[] = ["sku", "count", "hand"];

/** Options of {@link exportOnnx}. */
export interface ExportOptions {
  /** The graph's name. */
  readonly name: string;
  /** Written into the model's doc string. */
  readonly doc?: string;
}

/** The model cannot be written as ONNX (a layer this exporter does not know). */
export class OnnxExportError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "OnnxExportError";
  }
}

function floats(name: string, dims: readonly number[], values: Float32Array): Tensor {
  const raw = new Uint8Array(
    values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength),
  );
  return onnx.TensorProto.create({
    name,
    dims: [...dims],
    dataType: onnx.TensorProto.DataType.FLOAT,
    rawData: raw,
  });
}

function ints(name: string, values: readonly number[]) {
  return onnx.AttributeProto.create({
    name,
    type: onnx.AttributeProto.AttributeType.INTS,
    ints: [...values],
  });
}

function int(name: string, value: number) {
  return onnx.AttributeProto.create({
    name,
    type: onnx.AttributeProto.AttributeType.INT,
    i: value,
  });
}

/** HWIO (tfjs) to OIHW (ONNX). */
function oihw(kernel: Float32Array, [h, w, i, o]: number[]): Float32Array {
  const out = new Float32Array(kernel.length);
  for (let y = 0; y < h!; y++) {
    for (let x = 0; x < w!; x++) {
      for (let c = 0; c < i!; c++) {
        for (let k = 0; k < o!; k++) {
          out[((k * i! + c) * h! + y) * w! + x] = kernel[((y * w! + x) * i! + c) * o! + k]!;
        }
      }
    }
  }
  return out;
}

function valueInfo(name: string, dims: ReadonlyArray<number | string>) {
  return onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: onnx.TensorShapeProto.create({
          dim: dims.map((d) =>
            typeof d === "number"
              ? onnx.TensorShapeProto.Dimension.create({ dimValue: d })
              : onnx.TensorShapeProto.Dimension.create({ dimParam: d })
          ),
        }),
      }),
    }),
  });
}

/** The model as ONNX bytes. */
export function exportOnnx(model: tfl.LayersModel, options: ExportOptions): Uint8Array {
  const nodes: Node[] = [];
  const init: Tensor[] = [];
  const shape = model.inputs[0]!.shape; // [null, size, size, 3]
  const size = shape[1]!;
  let x = "input";
  let n = 0;
  const next = (op: string) => `${op.toLowerCase()}_${n++}`;
  const node = (
    op: string,
    inputs: string[],
    attrs: ReturnType<typeof int>[] = [],
    out?: string,
  ) => {
    const name = out ?? next(op);
    nodes.push(
      onnx.NodeProto.create({ opType: op, input: inputs, output: [name], name, attribute: attrs }),
    );
    return name;
  };
  let flattened = false;
  const heads: Record<string, string> = {};
  let trunk = "";
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    if (cls === "InputLayer") continue;
    const weights = layer.getWeights();
    const config = layer.getConfig() as Record<string, unknown>;
    if (cls === "Conv2D") {
      const kernel = weights[0]!;
      const [kh, kw, ci, co] = kernel.shape as number[];
      if (config.padding !== "same" || JSON.stringify(config.strides) !== "[1,1]") {
        throw new OnnxExportError(`Cannot export ${layer.name}: only stride 1, same padding`);
      }
      const w = `${layer.name}.weight`;
      const b = `${layer.name}.bias`;
      init.push(
        floats(
          w,
          [co!, ci!, kh!, kw!],
          oihw(kernel.dataSync() as Float32Array, [kh!, kw!, ci!, co!]),
        ),
      );
      init.push(floats(b, [co!], weights[1]!.dataSync() as Float32Array));
      const top = Math.floor((kh! - 1) / 2), left = Math.floor((kw! - 1) / 2);
      x = node("Conv", [x, w, b], [
        ints("kernel_shape", [kh!, kw!]),
        ints("pads", [top, left, kh! - 1 - top, kw! - 1 - left]),
        ints("strides", [1, 1]),
      ]);
      x = activation(config.activation, x, layer.name, node);
    } else if (cls === "MaxPooling2D") {
      const pool = config.poolSize as number[];
      const strides = config.strides as number[];
      x = node("MaxPool", [x], [ints("kernel_shape", pool), ints("strides", strides)]);
    } else if (cls === "Flatten") {
      // tfjs flattens NHWC: go back to it first.
      x = node("Transpose", [x], [ints("perm", [0, 2, 3, 1])]);
      x = node("Flatten", [x], [int("axis", 1)]);
      flattened = true;
    } else if (cls === "Dense") {
      if (!flattened) {
        throw new OnnxExportError(`Cannot export ${layer.name}: Dense before Flatten`);
      }
      const kernel = weights[0]!;
      const w = `${layer.name}.weight`;
      const b = `${layer.name}.bias`;
      init.push(floats(w, kernel.shape, kernel.dataSync() as Float32Array));
      init.push(floats(b, weights[1]!.shape, weights[1]!.dataSync() as Float32Array));
      // The heads read the shared trunk; the trunk's dense layer reads the flattened features.
      const head = HEADS.includes(layer.name);
      const from = head ? trunk : x;
      const y = node("Gemm", [from, w, b]);
      if (head) {
        if (config.activation !== "softmax") {
          throw new OnnxExportError(`Cannot export ${layer.name}: its activation is not softmax`);
        }
        heads[layer.name] = node("Softmax", [y], [int("axis", 1)], layer.name);
      } else {
        x = activation(config.activation, y, layer.name, node);
        trunk = x;
      }
    } else {
      throw new OnnxExportError(`Cannot export layer ${layer.name}: ${cls} is not supported`);
    }
  }
  if (!heads.sku || !heads.count) {
    throw new OnnxExportError("Cannot export: the model has no sku and count outputs");
  }
  const outputs = HEADS.filter((name) => heads[name]).map((name) =>
    valueInfo(name, ["n", (model.getLayer(name).getConfig() as { units: number }).units])
  );
  const graph = onnx.GraphProto.create({
    name: options.name,
    node: nodes,
    initializer: init,
    input: [valueInfo("input", ["n", 3, size, size])],
    output: outputs,
  });
  const m = onnx.ModelProto.create({
    irVersion: 7,
    producerName: "vendstream",
    producerVersion: "1",
    docString: options.doc ?? "",
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: "", version: 13 })],
    graph,
  });
  return onnx.ModelProto.encode(m).finish();
}

function activation(
  kind: unknown,
  x: string,
  layer: string,
  node: (op: string, inputs: string[]) => string,
): string {
  if (kind === "relu") return node("Relu", [x]);
  if (kind === "linear" || kind === undefined) return x;
  throw new OnnxExportError(`Cannot export ${layer}: activation ${String(kind)} is not supported`);
}
