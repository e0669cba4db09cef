/** The tiny synthetic Phi-3 with the guide's INT4 settings: what most test recipes are built on. */
export const TINY_INT4 = `model:
  synthetic: phi3-mini-tiny
pipeline: openvino
quantization:
  weight_format: int4
  group_size: 128
  ratio: 0.6
  sym: true
`;
