// ONNX Runtime's timing of one model, for bench/compare.py: runs WARMUP
// then ITERS inferences of a random (batch, 3, H, W) input and prints one
// JSON line with every time and the process's peak RSS.
//   node ort-bench.js MODEL.onnx BATCH THREADS ITERS H W
const ort = require('onnxruntime-node');

async function main() {
  const [model, batch, threads, iters, h, w] = process.argv.slice(2);
  const n = Number(batch), k = Number(iters);
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: Number(threads),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const size = n * 3 * Number(h) * Number(w);
  const data = new Float32Array(size);
  let seed = 42;
  for (let i = 0; i < size; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    data[i] = seed / 2147483648 * 4 - 2;
  }
  const feeds = {};
  feeds[session.inputNames[0]] =
      new ort.Tensor('float32', data, [n, 3, Number(h), Number(w)]);
  await session.run(feeds);
  const times = [];
  for (let i = 0; i < k; i++) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const sorted = [...times].sort((a, b) => a - b);
  console.log(JSON.stringify({
    impl: 'onnxruntime',
    version: require('onnxruntime-node/package.json').version,
    ms_per_batch: times,
    ms_per_batch_min: sorted[0],
    ms_per_batch_median: sorted[Math.floor(k / 2)],
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
  }));
}

main().catch((e) => {
  console.error(String(e));
  process.exit(1);
});
