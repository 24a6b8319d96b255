import assert from 'node:assert/strict';

/** Asserts a metric within 1e-12 of the expected value; `null` (an undefined metric) must be exactly null. */
export function close(actual: number | null, expected: number | null, message: string): void {
  if (expected === null) {
    assert.equal(actual, null, message);
    return;
  }
  assert.ok(actual !== null && Math.abs(actual - expected) < 1e-12, `${message}: got ${actual}, expected ${expected}`);
}
