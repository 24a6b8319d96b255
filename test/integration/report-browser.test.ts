/**
 * The run report in a real headless browser (Debian's /usr/bin/chromium, driven by playwright-core): the
 * page rendered from a realistic summary (test/fixtures/run-summary.ts: the seed judge and two iterations,
 * pointwise and pairwise suites, curation, usage, the gate) is opened from file:// and must
 * - load without a console error or page error (a Content-Security-Policy violation is a console error, so
 *   the script's hash and the inline styles are checked too),
 * - make no request at all besides the file itself (every other request is recorded and aborted),
 * - draw every chart: each SVG has marks (bars, points) with a non-zero size,
 * - fit a 1280-pixel-wide window without horizontal scrolling,
 * - switch the confusion matrix with its selector (the page's script runs),
 * - and look like charts in a screenshot: a PNG decoded here that is far from a single colour and holds
 *   solid areas of the palette's colours (the chart bars), chart by chart.
 * A hostile summary (markup in names) must render as text: nothing of it runs. So must both pages the
 * project writes, the report and the blind-review page, when every field carries one of the bad-input
 * corpus's script payloads (test/bad-input/html/payloads.json).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { inflateSync } from 'node:zlib';
import { chromium, type Browser, type Page } from 'playwright-core';
import { renderRunReport } from '../../core/report/report-html';
import { PALETTE } from '../../core/report/report-charts';
import { realisticRunSummary } from '../fixtures/run-summary';
import { renderReviewPage } from '../../core/review/human-review-page';
import { hostileReview, hostileSummary } from '../support/bad-input';

const CHROMIUM = '/usr/bin/chromium';
const WIDTH = 1280;

let browser: Browser;
let dir: string;

before(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing; install it with: bash scripts/setup.sh --only browser`);
  // --no-sandbox: Chromium's sandbox refuses to run as root (CI and these machines run as root).
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  dir = mkdtempSync(path.join(os.tmpdir(), 'judgeloop-report-'));
});

after(async () => {
  await browser?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------- a minimal PNG decoder

interface Image {
  width: number;
  height: number;
  /** RGB per pixel (alpha dropped). */
  rgb: Buffer;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Decodes the 8-bit, non-interlaced RGB(A) PNGs Chromium writes (enough to count colours). */
function decodePng(png: Buffer): Image {
  assert.equal(png.subarray(0, 8).toString('hex'), '89504e470d0a1a0a', 'a PNG signature');
  let off = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (off < png.length) {
    const len = png.readUInt32BE(off);
    const type = png.toString('latin1', off + 4, off + 8);
    const data = png.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      assert.equal(data[8], 8, 'bit depth 8');
      assert.equal(data[12], 0, 'not interlaced');
      channels = ({ 2: 3, 6: 4 } as Record<number, number>)[data[9]] ?? 0;
      assert.ok(channels, `colour type ${data[9]} is RGB or RGBA`);
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    off += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const out = Buffer.alloc(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = out.subarray(y * stride, (y + 1) * stride);
    const prev = y > 0 ? out.subarray((y - 1) * stride, y * stride) : Buffer.alloc(stride);
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? row[x - channels] : 0;
      const b = prev[x];
      const c = x >= channels ? prev[x - channels] : 0;
      const pred = filter === 0 ? 0 : filter === 1 ? a : filter === 2 ? b : filter === 3 ? (a + b) >> 1 : paeth(a, b, c);
      row[x] = (src[x] + pred) & 0xff;
    }
  }
  const rgb = Buffer.alloc(width * height * 3);
  for (let i = 0; i < width * height; i++) out.copy(rgb, i * 3, i * channels, i * channels + 3);
  return { width, height, rgb };
}

/** Pixels per exact colour (`#rrggbb`). */
function colourCounts(img: Image): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < img.rgb.length; i += 3) {
    const key = `#${img.rgb.subarray(i, i + 3).toString('hex')}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

function imageStats(png: Buffer): { width: number; height: number; colours: number; dominantShare: number; counts: Map<string, number> } {
  const img = decodePng(png);
  const counts = colourCounts(img);
  const dominant = Math.max(...counts.values());
  return { width: img.width, height: img.height, colours: counts.size, dominantShare: dominant / (img.width * img.height), counts };
}

// ------------------------------------------------------------------------------------------ the page

/** The little of the DOM the page checks use (the project compiles without the DOM library). */
interface Box {
  width: number;
  height: number;
  right: number;
}
interface DomElement {
  getAttribute(name: string): string | null;
  getBoundingClientRect(): Box;
  getBBox(): Box;
  querySelectorAll(selector: string): ArrayLike<DomElement>;
}
interface DomDocument {
  documentElement: { scrollWidth: number };
  querySelectorAll(selector: string): ArrayLike<DomElement>;
}

interface Opened {
  page: Page;
  problems: string[];
  requests: string[];
  close(): Promise<void>;
}

/** Opens a report file with every request but the file itself recorded and refused. */
async function open(file: string): Promise<Opened> {
  const url = pathToFileURL(file).href;
  const context = await browser.newContext({ viewport: { width: WIDTH, height: 900 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const problems: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('request', (r) => requests.push(r.url()));
  await context.route('**/*', (route) => (route.request().url() === url ? route.continue() : route.abort()));
  await page.goto(url, { waitUntil: 'load' });
  return { page, problems, requests, close: () => context.close() };
}

function writeReport(name: string, html: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, html);
  return file;
}

test('the report renders in Chromium: no errors, no requests, every chart drawn, fits 1280 px, a screenshot of charts', { timeout: 120_000 }, async () => {
  const summary = realisticRunSummary();
  const file = writeReport('report.html', renderRunReport(summary, { startedAt: '2025-03-02T03:00:00.000Z', finishedAt: '2025-03-02T04:27:13.000Z' }));
  const { page, problems, requests, close } = await open(file);
  try {
    assert.deepEqual(problems, []);
    assert.deepEqual(requests, [pathToFileURL(file).href], 'the file itself and nothing else');

    // The embedded summary, as a tool reads it from the page.
    const json = await page.textContent('#run-summary');
    assert.deepEqual(JSON.parse(json ?? 'null'), summary);

    // Every chart has marks with a size; the expected charts are all there.
    const charts = await page.$$eval('svg.chart', (elements) =>
      (elements as unknown as DomElement[]).map((svg) => {
        const marks = Array.from(svg.querySelectorAll('.mark')).map((m) => m.getBBox());
        const box = svg.getBoundingClientRect();
        return { id: svg.getAttribute('data-chart'), width: box.width, height: box.height, marks: marks.length, sized: marks.filter((b) => b.width > 0 && b.height > 0).length };
      }),
    );
    assert.deepEqual(charts.map((c) => c.id), ['metric-primary', 'metric-correlation-0', 'histogram-0', 'curation-strategies', 'curation-dropped', 'curation-without', 'usage-time', 'usage-cost']);
    for (const c of charts) {
      assert.ok(c.width > 300 && c.height > 150, `${c.id} is ${c.width}x${c.height}`);
      assert.ok(c.marks > 0 && c.sized === c.marks, `${c.id}: ${c.sized} of ${c.marks} marks have a size`);
    }
    // Points: 4 series x 3 iterations on the primary chart; bars: gold + 3 iterations over 5 scores + unparseable.
    assert.equal(charts[0].marks, 12);
    assert.equal(charts[2].marks, 5 + 3 * 5 + 2, 'gold 5, judge 3 x 5 levels, unparseable for iterations 0 and 1');

    // No horizontal overflow at 1280 px: neither the document nor any section is wider than the window.
    const layout = await page.evaluate(() => {
      const doc = (globalThis as unknown as { document: DomDocument }).document;
      return {
        scrollWidth: doc.documentElement.scrollWidth,
        widest: Math.max(...Array.from(doc.querySelectorAll('header, section, nav, footer')).map((e) => e.getBoundingClientRect().right)),
      };
    });
    assert.ok(layout.scrollWidth <= 1280, `the page scrolls sideways: ${layout.scrollWidth} px`);
    assert.ok(layout.widest <= 1280, `a section reaches ${layout.widest} px`);

    // The confusion matrix's selector (the page's own script, admitted by its CSP hash).
    const visibleIteration = () => page.$eval('[data-cm-panel="0"]:not([hidden])', (e) => e.getAttribute('data-iteration'));
    assert.equal(await visibleIteration(), '2');
    assert.equal(await page.locator('[data-cm-panel="0"]:visible').count(), 1);
    await page.selectOption('select[data-cm="0"]', '0');
    assert.equal(await visibleIteration(), '0');
    assert.equal(await page.locator('[data-cm-panel="0"]:visible .diag').first().textContent(), '1', 'the seed judge agreed on 1 item of gold 1');
    await page.selectOption('select[data-cm="0"]', '2');

    // The whole page, as a screenshot: a big PNG with many colours, no colour covering it, palette colours in it.
    const shot = path.join(dir, 'report.png');
    await page.screenshot({ path: shot, fullPage: true });
    const png = readFileSync(shot);
    const stats = imageStats(png);
    assert.equal(stats.width, WIDTH);
    assert.ok(stats.height > 2000, `the page is ${stats.height} px high`);
    assert.ok(png.length > 100_000, `the screenshot is ${png.length} bytes`);
    assert.ok(stats.colours > 200, `${stats.colours} colours`);
    assert.ok(stats.dominantShare < 0.8, `one colour covers ${(stats.dominantShare * 100).toFixed(1)}% of the page`);
    for (const colour of ['#0072B2', '#E69F00', '#009E73', '#6E6E6E']) {
      const n = stats.counts.get(colour.toLowerCase()) ?? 0;
      assert.ok(n > 2000, `${colour}: ${n} pixels (chart bars and points are solid areas of the palette)`);
    }

    // Chart by chart: each one's own screenshot is not blank and holds its data colours.
    for (const c of charts) {
      const buf = await page.locator(`svg[data-chart="${c.id}"]`).screenshot();
      const s = imageStats(buf);
      const palettePixels = [...PALETTE, '#6E6E6E'].reduce((a, colour) => a + (s.counts.get(colour.toLowerCase()) ?? 0), 0);
      assert.ok(s.colours > 20, `${c.id}: ${s.colours} colours`);
      assert.ok(s.dominantShare < 0.95, `${c.id}: one colour covers ${(s.dominantShare * 100).toFixed(1)}%`);
      assert.ok(palettePixels > 150, `${c.id}: ${palettePixels} pixels of data colours`);
    }
    console.log(`screenshot: ${stats.width}x${stats.height}, ${png.length} bytes, ${stats.colours} colours; ${charts.length} charts`);
  } finally {
    await close();
  }
});

test('a hostile summary renders as text in the browser: nothing of it runs or loads', { timeout: 60_000 }, async () => {
  const evil = '<img src="https://example.com/x.png" onerror="window.__pwned=1">';
  const s = realisticRunSummary();
  s.judgeName = evil;
  s.runName = `</script><script>window.__pwned=2</script>`;
  for (const it of s.iterations) {
    it.eval[evil] = it.eval.llmbar;
    delete it.eval.llmbar;
  }
  const file = writeReport('hostile.html', renderRunReport(s));
  const { page, problems, requests, close } = await open(file);
  try {
    assert.deepEqual(problems, []);
    assert.deepEqual(requests, [pathToFileURL(file).href]);
    assert.equal(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned), undefined);
    assert.equal(await page.locator('img').count(), 0);
    assert.equal(await page.textContent('h1'), s.runName);
    assert.match((await page.textContent('header')) ?? '', /<img src="https:\/\/example\.com\/x\.png"/);
    assert.deepEqual(JSON.parse((await page.textContent('#run-summary')) ?? 'null'), s);
  } finally {
    await close();
  }
});

/** What an injected script would change: each payload sets window.__pwned or the title, or hides the page. */
async function untouched(page: Page, title: string): Promise<void> {
  assert.equal(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned), undefined, 'an injected script ran');
  assert.equal(await page.title(), title, 'the title is the page\'s own');
  for (const tag of ['img', 'iframe', 'svg a', 'a[href^="javascript:"]', 'body style']) {
    assert.equal(await page.locator(tag).count(), 0, `no ${tag} from the data`);
  }
  assert.ok(await page.locator('body').isVisible(), 'the page is not hidden');
}

test('the bad-input payloads in every field of both pages render as text in Chromium: nothing runs, loads or hides', { timeout: 90_000 }, async () => {
  const summary = hostileSummary();
  const report = writeReport('bad-input-report.html', renderRunReport(summary));
  const opened = await open(report);
  try {
    assert.deepEqual(opened.problems, [], 'no console error: nothing was even refused by the policy');
    assert.deepEqual(opened.requests, [pathToFileURL(report).href]);
    await untouched(opened.page, `Judgeloop report · ${summary.runName}`);
    assert.equal(await opened.page.textContent('h1'), summary.runName);
    assert.deepEqual(JSON.parse((await opened.page.textContent('#run-summary')) ?? 'null'), summary);
  } finally {
    await opened.close();
  }

  const review = hostileReview();
  const file = writeReport('bad-input-review.html', renderReviewPage(review));
  const page = await open(file);
  try {
    assert.deepEqual(page.problems, []);
    assert.deepEqual(page.requests, [pathToFileURL(file).href]);
    // Every item, every field: shown as the very text it holds, and nothing of it runs.
    for (const [i, item] of review.items.entries()) {
      await untouched(page.page, `Blind review ${review.id}`);
      assert.equal(await page.page.textContent('#instruction'), item.instruction, `item ${i}`);
      assert.equal(await page.page.textContent('#response'), item.response, `item ${i}`);
      assert.equal(await page.page.textContent('#criteria'), item.criteria, `item ${i}`);
      assert.equal(await page.page.textContent('#rationale-a'), item.a.rationale, `item ${i}`);
      assert.equal(await page.page.textContent('#rationale-b'), item.b.rationale, `item ${i}`);
      assert.equal(await page.page.textContent('#item-id'), item.itemId, `item ${i}`);
      assert.deepEqual(await page.page.locator('#levels li').allTextContents(), item.scoreDescriptions, `item ${i}`);
      if (i < review.items.length - 1) await page.page.click('#next');
    }
    assert.deepEqual(page.problems, []);
  } finally {
    await page.close();
  }
});
