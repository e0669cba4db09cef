import { describe, expect, it } from 'vitest';
import { runSupportScript, toolchainPython } from '../support/cli.js';

// Device runners score answer similarity without torch: a NumPy BERT over the packaged
// all-MiniLM-L6-v2. It must give what sentence-transformers gives on the same model.

describe('the NumPy similarity scorer', () => {
  it('agrees with sentence-transformers to within 1e-5 on every pair', async () => {
    const python = await toolchainPython('reference');
    const scores = await runSupportScript<{ numpy: number[]; sentence_transformers: number[] }>(python, 'similarity_agreement.py', []);
    expect(scores.numpy).toHaveLength(4);
    scores.numpy.forEach((value, index) => expect(Math.abs(value - scores.sentence_transformers[index]), `pair ${index}`).toBeLessThan(1e-5));
    // The pairs span the scale: paraphrases score high, unrelated texts low.
    expect(scores.numpy[0]).toBeGreaterThan(0.8);
    expect(scores.numpy[2]).toBeLessThan(0.3);
  });
});
