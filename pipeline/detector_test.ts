import assert from "node:assert/strict";
import onnxProto from "onnx-proto";
import { loadOrtWeb, referenceKernels } from "../wasm/mod.ts";
import { decodeYolo, type Detection, iou, nonMaxSuppression, OnnxDetector } from "./detector.ts";

const { onnx } = onnxProto;

const det = (x0: number, score: number, classId = 0): Detection => ({
  x0,
  y0: 0,
  x1: x0 + 10,
  y1: 10,
  score,
  classId,
  label: `c${classId}`,
});

Deno.test("nonMaxSuppression keeps the strongest of overlapping boxes of a class", () => {
  const kept = nonMaxSuppression([det(0, 0.5), det(1, 0.9), det(30, 0.4), det(1, 0.8, 1)]);
  assert.deepEqual(kept.map((d) => [d.x0, d.classId]), [[1, 0], [1, 1], [30, 0]]);
  assert.equal(iou(det(0, 1), det(5, 1)), 50 / 150);
  assert.equal(iou(det(0, 1), det(20, 1)), 0);
});

Deno.test("decodeYolo reads the yolov5 and yolov8 layouts alike", () => {
  // Two boxes, two classes: box A (class 1, 0.9 x 0.8), box B below the threshold.
  const v5 = Float32Array.of(50, 40, 20, 10, 0.9, 0.1, 0.8, 10, 10, 4, 4, 0.1, 0.5, 0.5);
  const a = decodeYolo(v5, [1, 2, 7], { layout: "yolov5", labels: ["cola", "water"] });
  assert.equal(a.length, 1);
  assert.deepEqual({ ...a[0], score: Number(a[0]!.score.toFixed(3)) }, {
    x0: 40,
    y0: 35,
    x1: 60,
    y1: 45,
    score: 0.72,
    classId: 1,
    label: "water",
  });
  // The same boxes transposed, without objectness.
  const v8 = Float32Array.of(50, 10, 40, 10, 20, 4, 10, 4, 0.1, 0.05, 0.72, 0.05);
  const b = decodeYolo(v8, [1, 6, 2], { layout: "yolov8", labels: ["cola", "water"] });
  assert.deepEqual(b.map((d) => [d.x0, d.classId, d.label]), [[40, 1, "water"]]);
  assert.throws(() => decodeYolo(v5, [1, 3, 7], { layout: "yolov5" }), /Cannot decode 14 values/);
});

/**
 * A tiny detector graph: a constant YOLOv5 output scaled by the picture's mean brightness, so a
 * dark picture finds nothing and a bright one finds the boxes.
 */
function detectorGraph(size: number, boxes: number[][]): Uint8Array {
  const values = Float32Array.from(boxes.flat());
  const tensor = (name: string, dims: number[], data: Float32Array) =>
    onnx.TensorProto.create({
      name,
      dims,
      dataType: onnx.TensorProto.DataType.FLOAT,
      rawData: new Uint8Array(data.buffer.slice(0)),
    });
  const ints = (name: string, v: number[]) =>
    onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: v });
  const int = (name: string, v: number) =>
    onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i: v });
  const vi = (name: string, dims: number[]) =>
    onnx.ValueInfoProto.create({
      name,
      type: onnx.TypeProto.create({
        tensorType: onnx.TypeProto.Tensor.create({
          elemType: onnx.TensorProto.DataType.FLOAT,
          shape: onnx.TensorShapeProto.create({
            dim: dims.map((d) => onnx.TensorShapeProto.Dimension.create({ dimValue: d })),
          }),
        }),
      }),
    });
  const cols = boxes[0]!.length;
  // Brightness 0..1 -> scale on the objectness column only: [1, 1, cols] mask.
  const mask = Float32Array.from({ length: cols }, (_, i) => (i === 4 ? 1 : 0));
  const keep = Float32Array.from({ length: cols }, (_, i) => (i === 4 ? 0 : 1));
  const graph = onnx.GraphProto.create({
    name: "tiny_detector",
    node: [
      onnx.NodeProto.create({
        opType: "ReduceMean",
        input: ["images"],
        output: ["m"],
        attribute: [ints("axes", [1, 2, 3]), int("keepdims", 0)],
      }),
      onnx.NodeProto.create({ opType: "Reshape", input: ["m", "shape"], output: ["m3"] }),
      onnx.NodeProto.create({ opType: "Mul", input: ["m3", "mask"], output: ["scaled"] }),
      onnx.NodeProto.create({ opType: "Add", input: ["scaled", "keep"], output: ["factor"] }),
      onnx.NodeProto.create({ opType: "Mul", input: ["boxes", "factor"], output: ["output0"] }),
    ],
    initializer: [
      tensor("boxes", [1, boxes.length, cols], values),
      tensor("mask", [1, 1, cols], mask),
      tensor("keep", [1, 1, cols], keep),
      onnx.TensorProto.create({
        name: "shape",
        dims: [3],
        dataType: onnx.TensorProto.DataType.INT64,
        rawData: new Uint8Array(BigInt64Array.of(1n, 1n, 1n).buffer),
      }),
    ],
    input: [vi("images", [1, 3, size, size])],
    output: [vi("output0", [1, boxes.length, cols])],
  });
  return onnx.ModelProto.encode(onnx.ModelProto.create({
    irVersion: 7,
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: "", version: 13 })],
    graph,
  })).finish();
}

Deno.test("OnnxDetector runs a user's YOLO-style ONNX graph and maps boxes back to the picture", async () => {
  const ort = await loadOrtWeb();
  // In the 64x64 input: two overlapping boxes of class 0 and one of class 1.
  const graph = detectorGraph(64, [
    [32, 32, 16, 16, 1, 0.9, 0.1],
    [33, 32, 16, 16, 1, 0.7, 0.1],
    [10, 50, 8, 8, 1, 0.1, 0.95],
  ]);
  await using detector = await OnnxDetector.load(ort, graph, {
    layout: "yolov5",
    inputSize: 64,
    kernels: referenceKernels,
    labels: ["can", "bottle"],
  });
  // A 128x64 white picture: letterboxed into 64x64 at scale 0.5 with 16 px bands above and below.
  const white = { data: new Uint8Array(128 * 64 * 4).fill(255), width: 128, height: 64 };
  const found = await detector.detect(white);
  assert.deepEqual(found.map((d) => d.label), ["bottle", "can"]);
  const can = found.find((d) => d.label === "can")!;
  assert.deepEqual([can.x0, can.y0, can.x1, can.y1], [48, 16, 80, 48]);
  // A black picture: no objectness, nothing found.
  const black = { data: new Uint8Array(128 * 64 * 4), width: 128, height: 64 };
  for (let i = 3; i < black.data.length; i += 4) black.data[i] = 255;
  assert.deepEqual(await detector.detect(black), []);
  await assert.rejects(
    () =>
      OnnxDetector.load(ort, new Uint8Array([1, 2, 3]), {
        layout: "yolov5",
        inputSize: 64,
        kernels: referenceKernels,
      }),
    /Cannot load the detector/,
  );
});
