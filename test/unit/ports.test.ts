import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ephemeralPortRange, freePort, portSearchRange } from '../../stack/ports';

test('portSearchRange: below the ephemeral range, above it when it starts too low, else everything above 10000', () => {
  const cases: Array<[[number, number], [number, number]]> = [
    [[32768, 60999], [20000, 32767]], // Linux's default
    [[49152, 65535], [20000, 49151]], // IANA's (macOS, Windows)
    [[15000, 30000], [30001, 65535]],
    [[1024, 65535], [10000, 65535]],
  ];
  for (const [range, want] of cases) assert.deepEqual(portSearchRange(range), want, JSON.stringify(range));
});

test('ephemeralPortRange: read from the kernel file, the usual default when it is missing or malformed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'judgeloop-ports-'));
  const file = (text: string) => {
    const f = join(dir, `${Math.random()}`);
    writeFileSync(f, text);
    return f;
  };
  assert.deepEqual(ephemeralPortRange(file('32768\t60999\n')), [32768, 60999]);
  assert.deepEqual(ephemeralPortRange(file('40000 50000')), [40000, 50000]);
  for (const bad of ['', 'x y', '60999 32768', '0 100', '1 70000']) assert.deepEqual(ephemeralPortRange(file(bad)), [32768, 60999], bad);
  assert.deepEqual(ephemeralPortRange(join(dir, 'missing')), [32768, 60999]);
});

test('freePort: distinct ports outside the ephemeral range, each one bindable', async () => {
  const [lo, hi] = ephemeralPortRange();
  const ports = new Set<number>();
  for (let i = 0; i < 40; i++) {
    const port = await freePort();
    assert.ok(port < lo || port > hi, `${port} is outside ${lo}-${hi}, where the kernel hands out ports of its own`);
    assert.ok(!ports.has(port), `${port} handed out twice`);
    ports.add(port);
  }
  for (const port of [...ports].slice(0, 5)) {
    await new Promise<void>((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve()));
    });
  }
});
