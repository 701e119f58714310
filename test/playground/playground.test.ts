import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ERROR_MAP_SCALE } from '@obelm/core';
import chromium from '@sparticuz/chromium';
import puppeteer, { type Browser, type HTTPRequest, type Page } from 'puppeteer-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorMapColour } from '../../packages/worker/src/job/errorMap.ts';
import { api, demoPng, startTestStack, type TestStack } from '../e2e/helpers.ts';

/**
 * The web playground in a real headless Chromium against the local stack (API, S3, SQS, DynamoDB stand-ins and
 * worker processes): the page is served at `/` of the API, uploads go from the browser to the S3 stand-in
 * (cross-origin, CORS), and every flow runs real jobs. Screenshots go to test-output/playground/.
 */
/**
 * What the callbacks run in the page (puppeteer sends their source to Chromium) use of the DOM: the repository's
 * type check has no DOM library, so this file declares the little it needs, for itself only.
 */
interface PageElement {
  id: string;
  textContent: string | null;
  hidden: boolean;
  value: string;
  max: string;
  src: string;
  complete: boolean;
  naturalWidth: number;
  naturalHeight: number;
  offsetParent: unknown;
  dataset: Record<string, string | undefined>;
  getAttribute(name: string): string | null;
  blur(): void;
}
declare const document: {
  getElementById(id: string): PageElement | null;
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): ArrayLike<PageElement> & Iterable<PageElement>;
  activeElement: PageElement | null;
  documentElement: { scrollWidth: number };
};
declare const window: { innerWidth: number };

const root = join(import.meta.dirname, '../..');
const SHOTS = join(root, 'test-output/playground');
const FLOW_TIMEOUT_MS = 60_000;

let t: TestStack;
let browser: Browser;
let page: Page;
let work: string;
/** The static build, started with the stack so it runs while the browser starts. */
let built: Promise<unknown>;
/**
 * Errors the page threw or logged: a flow that passes with them still fails at the end. The browser's own lines
 * about error answers ("Failed to load resource") are left out: the error test provokes a 401 on purpose.
 */
const pageErrors: string[] = [];

async function launchBrowser(): Promise<Browser> {
  return puppeteer.launch({
    args: chromium.args,
    executablePath: await chromium.executablePath(),
    headless: true,
    defaultViewport: { width: 1280, height: 900 },
  });
}

beforeAll(async () => {
  built = promisify(execFile)('npm', ['run', 'build', '-w', '@obelm/playground'], {
    cwd: root,
    env: { ...process.env, OBELM_API_URL: 'https://api.example.test/' },
  });
  built.catch(() => undefined); // awaited (and reported) by its test
  mkdirSync(SHOTS, { recursive: true });
  work = mkdtempSync(join(tmpdir(), 'obelm-playground-'));
  [t, browser] = await Promise.all([startTestStack(), launchBrowser()]);
  // Two workers: the compare view's four round trips run two at a time.
  t.spawnWorker();
  t.spawnWorker();
  page = await browser.newPage();
  page.on('pageerror', (err) => pageErrors.push(String(err)));
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource'))
      pageErrors.push(message.text());
  });
  await page.goto(`${t.stack.apiUrl}/`);
  await page.waitForSelector('body[data-ready="true"]');
});

afterAll(async () => {
  await browser?.close();
  await t?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
const fieldValue = (selector: string) => page.$eval(selector, (el) => (el as PageElement).value);

const textOf = (selector: string) => page.$eval(selector, (el) => el.textContent ?? '');
/** Starts a job with `start` (a click, a key) and waits until it has ended; returns the status line. */
async function runToEnd(start: () => Promise<void>): Promise<string> {
  const before = await textOf('#status');
  await start();
  await page.waitForFunction(
    (previous) => {
      const status = document.getElementById('status')?.textContent ?? '';
      const busy = document.getElementById('job-form')?.getAttribute('aria-busy') === 'true';
      return !busy && status !== previous && /: (succeeded|failed|canceled|expired)/.test(status);
    },
    { timeout: FLOW_TIMEOUT_MS },
    before,
  );
  return textOf('#status');
}

async function chooseKind(kind: string): Promise<void> {
  await page.select('#kind', kind);
}

/** Replaces a text field's value as a user would. */
async function fill(selector: string, value: string): Promise<void> {
  await page.click(selector, { count: 3 });
  await page.keyboard.press('Backspace');
  if (value) await page.type(selector, value);
}

/** Whether an <img> has loaded, and its natural size. */
const imageState = (selector: string) =>
  page.$eval(selector, (img) => ({
    complete: (img as PageElement).complete,
    width: (img as PageElement).naturalWidth,
  }));

describe('the static build', () => {
  it('writes dist/ with the page, the bundle and a config.json naming OBELM_API_URL', async () => {
    await built;
    const dist = join(root, 'packages/playground/dist');
    expect(JSON.parse(readFileSync(join(dist, 'config.json'), 'utf8'))).toEqual({
      apiUrl: 'https://api.example.test',
    });
    expect(readFileSync(join(dist, 'index.html'), 'utf8')).toContain('src="app.js"');
    expect(readFileSync(join(dist, 'app.js'), 'utf8')).toContain('/v1/jobs');
    expect(readFileSync(join(dist, 'styles.css'), 'utf8')).toContain('.compare-grid');
  });
});

describe('the playground', () => {
  it('is served at / of the API with a config naming the dev key; /v1 answers as before', async () => {
    const base = t.stack.apiUrl;
    const config = await fetch(`${base}/config.json`);
    expect(config.headers.get('content-type')).toBe('application/json');
    expect(await config.json()).toEqual({ apiUrl: '', devKey: t.stack.devKey });
    const head = await fetch(`${base}/`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toMatch(/^text\/html/);
    expect((await fetch(`${base}/app.js`)).headers.get('content-type')).toMatch(/^text\/javascript/);
    const missing = await fetch(`${base}/nothing-here`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('not_found');
    const api = await fetch(`${base}/v1/nothing`);
    expect(api.status).toBe(404);
    expect(((await api.json()) as { error: { code: string } }).error.code).toBe('not_found');
    expect((await fetch(`${base}/`, { method: 'POST' })).status).toBe(404);
    // The page filled in the key and the model's vocabulary, limits and defaults.
    expect(await fieldValue('#api-key')).toBe(t.stack.devKey);
    expect(await page.$$eval('#chips .chip', (chips) => chips.map((c) => c.textContent))).toEqual(
      expect.arrayContaining(['circle', 'red', 'navy', 'left']),
    );
    expect(await page.$eval('#steps', (el) => [(el as PageElement).value, (el as PageElement).max])).toEqual([
      '20',
      '200',
    ]);
  });

  it("draws the error legend with the worker's heatmap colours", () => {
    const css = readFileSync(join(root, 'packages/playground/styles.css'), 'utf8');
    const gradient = /\.legend-bar \{[^}]*linear-gradient\(\s*to right,([^)]*)\)/.exec(css)?.[1] ?? '';
    const stops = gradient.split(',').map((stop) => stop.trim());
    const [low, high] = [Math.log10(ERROR_MAP_SCALE.min), Math.log10(ERROR_MAP_SCALE.max)];
    const hex = (rgb: readonly number[]) => `#${rgb.map((c) => c.toString(16).padStart(2, '0')).join('')}`;
    const expected = stops.map((_, i) =>
      hex(errorMapColour(10 ** (low + ((high - low) * i) / (stops.length - 1)))),
    );
    expect(stops.length).toBeGreaterThan(2);
    expect(stops).toEqual(expected);
  });

  it('samples an image from a prompt built with vocabulary chips', async () => {
    await chooseKind('sample');
    await fill('#prompt', '');
    await page.focus('#prompt');
    for (const word of ['red', 'circle']) await page.click(`#chips .chip[data-word="${word}"]`);
    expect(await fieldValue('#prompt')).toBe('red circle');
    await fill('#seed', '7');
    expect(await runToEnd(() => page.click('#run'))).toMatch(/^Job job_\S+: succeeded$/);
    await page.waitForFunction(() => document.querySelector('[data-testid="result-output"] img')?.complete);
    expect(await imageState('[data-testid="result-output"] img')).toEqual({ complete: true, width: 32 });
    expect(await textOf('#result-meta')).toMatch(/^sample · obelm · 20 steps · succeeded · job_/);
    expect(await page.$('[data-testid="noise-link"]')).not.toBeNull();
    expect(await page.$('[data-testid="report-link"]')).not.toBeNull();
    await shot('sample');
    // The generated image becomes the next job's input (downloaded from storage, cross-origin), to edit.
    await page.click('[data-testid="use-as-input"]');
    await page.waitForSelector('[data-testid="input-preview"]');
    expect(await fieldValue('#kind')).toBe('edit');
    expect(await fieldValue('#source-prompt')).toBe('red circle');
  });

  it('edits an uploaded image: the result beside the input', async () => {
    const file = join(work, 'red-circle.png');
    writeFileSync(file, await demoPng({ shape: 'circle', colour: 'red' }));
    await chooseKind('edit');
    const input = await page.$('#image-file');
    await input!.uploadFile(file);
    await page.waitForSelector('[data-testid="input-preview"]');
    await fill('#source-prompt', 'red circle');
    await fill('#target-prompt', 'blue circle');
    expect(await runToEnd(() => page.click('#run'))).toMatch(/^Job job_\S+: succeeded$/);
    const [inBox, outBox] = await Promise.all(
      ['[data-testid="result-input"] img', '[data-testid="result-output"] img'].map(async (selector) =>
        (await page.$(selector))!.boundingBox(),
      ),
    );
    // Side by side on a wide screen: the same row, the output to the right.
    expect(Math.abs(inBox!.y - outBox!.y)).toBeLessThan(2);
    expect(outBox!.x).toBeGreaterThan(inBox!.x + inBox!.width - 1);
    expect(await textOf('#result-meta')).toMatch(/^edit · obelm · /);
    // The edit made the red circle blue.
    const url = await page.$eval('[data-testid="result-output"] img', (img) => (img as PageElement).src);
    const pixels = await sharp(Buffer.from(await (await fetch(url)).arrayBuffer()))
      .raw()
      .toBuffer();
    const centre = (16 * 32 + 16) * 3;
    expect(pixels[centre + 2]!).toBeGreaterThan(pixels[centre]! + 50);
    await shot('edit');
  });

  it('compares the samplers on the same round trip: O-BELM exact, DDIM not', async () => {
    await page.click('#compare');
    await page.waitForFunction(
      () =>
        [...document.querySelectorAll('[data-testid="compare-cell"]')].filter((cell) =>
          ['succeeded', 'failed', 'canceled', 'expired'].includes(
            (cell as PageElement).dataset['status'] ?? '',
          ),
        ).length === 4,
      { timeout: FLOW_TIMEOUT_MS },
    );
    const cells = await page.$$eval('[data-testid="compare-cell"]', (all) =>
      all.map((cell) => ({
        sampler: (cell as PageElement).dataset['sampler'],
        status: (cell as PageElement).dataset['status'],
        error: Number((cell as PageElement).dataset['error']),
        maps: cell.querySelectorAll('[data-testid="error-map"] img').length,
      })),
    );
    expect(cells.map((cell) => [cell.sampler, cell.status])).toEqual([
      ['obelm', 'succeeded'],
      ['ddim', 'succeeded'],
      ['bdia', 'succeeded'],
      ['edict', 'succeeded'],
    ]);
    const error = Object.fromEntries(cells.map((cell) => [cell.sampler, cell.error]));
    expect(error['obelm']).toBeLessThanOrEqual(1e-8);
    expect(error['ddim']).toBeGreaterThan(1e-4);
    expect(Number.isFinite(error['bdia'])).toBe(true);
    expect(Number.isFinite(error['edict'])).toBe(true);
    // Each cell shows its error map (a reconstruct job's outputs.errorMap), loaded.
    expect(cells.map((cell) => cell.maps)).toEqual([1, 1, 1, 1]);
    await page.waitForFunction(() =>
      [...document.querySelectorAll('#compare-grid img')].every(
        (img) => img.complete && img.naturalWidth > 0,
      ),
    );
    await shot('compare');
  });

  it('interpolates between two uploaded images: a frame per weight, a bad list refused in the page', async () => {
    const files = await Promise.all(
      (['circle', 'square'] as const).map(async (shape) => {
        const file = join(work, `red-${shape}.png`);
        writeFileSync(file, await demoPng({ shape, colour: 'red' }));
        return file;
      }),
    );
    // The job requests the page sends from here on (POST /v1/jobs bodies).
    const created: Promise<string | undefined>[] = [];
    const onRequest = (request: HTTPRequest) => {
      if (request.method() === 'POST' && new URL(request.url()).pathname === '/v1/jobs')
        created.push(request.fetchPostData());
    };
    page.on('request', onRequest);
    try {
      await chooseKind('interpolate');
      // The comparison is one image's round trip: not offered for two inputs.
      expect(await page.$eval('#compare', (button) => (button as PageElement).hidden)).toBe(true);
      await (await page.$('#image-file'))!.uploadFile(files[0]!);
      await (await page.$('#image-file-2'))!.uploadFile(files[1]!);
      await page.waitForSelector('[data-testid="input-preview"]');
      await page.waitForSelector('[data-testid="input-preview-2"]');
      await fill('#prompt', '');

      // A list that is not numbers is the page's error, and no job is asked for.
      await fill('#weights', '0, half');
      await page.click('#run');
      await page.waitForFunction(() => document.getElementById('error')?.hidden === false);
      expect(await textOf('[data-testid="error-code"]')).toBe('invalid_weights');
      expect(await textOf('#error')).toContain('"half" is not a number');
      expect(created).toEqual([]);
      // A weight out of [0, 1] is the API's to refuse: its answer is shown, and no job is made.
      await fill('#weights', '0, 2');
      await page.click('#run');
      await page.waitForFunction(
        () => document.querySelector('[data-testid="error-code"]')?.textContent === 'invalid_request',
      );
      expect(await textOf('#error')).toContain('weights');
      expect(created).toHaveLength(1);

      await fill('#weights', '0, 0.5, 1');
      expect(await runToEnd(() => page.click('#run'))).toMatch(/^Job job_\S+: succeeded$/);
      expect(await page.$eval('#error', (el) => (el as PageElement).hidden)).toBe(true);
      expect(created).toHaveLength(2);
      const sent = JSON.parse((await created[1]) ?? '') as {
        kind: string;
        images: object[];
        weights: number[];
      };
      expect(sent).toMatchObject({ kind: 'interpolate', weights: [0, 0.5, 1] });
      expect(sent.images).toEqual([{ uploadId: expect.any(String) }, { uploadId: expect.any(String) }]);
    } finally {
      page.off('request', onRequest);
    }

    const jobId = (await textOf('#result-meta')).match(
      /^interpolate · obelm · \d+ steps · succeeded · (job_\S+)/,
    )?.[1];
    expect(jobId).toBeDefined();
    // Three frames in order, each labelled with its weight, decoded at the model's size, with a download link.
    await page.waitForFunction(() =>
      [...document.querySelectorAll('[data-testid="result-output"] img')].every((img) => img.complete),
    );
    const frames = await page.$$eval('[data-testid="result-output"]', (figures) =>
      figures.map((figure) => {
        const img = figure.querySelector('img') as PageElement;
        return {
          weight: (figure as PageElement).dataset['weight'],
          caption: figure.querySelector('figcaption')?.textContent,
          src: img.src,
          size: [img.naturalHeight, img.naturalWidth],
          download: (
            figure.querySelector('[data-testid="download-output"]') as PageElement | null
          )?.getAttribute('href'),
        };
      }),
    );
    expect(frames.map((frame) => [frame.weight, frame.caption])).toEqual([
      ['0', 'Weight 0'],
      ['0.5', 'Weight 0.5'],
      ['1', 'Weight 1'],
    ]);
    const modelId = await fieldValue('#model');
    const models = await api<{ models: { id: string; imageSize: [number, number] }[] }>(
      t.stack,
      'GET',
      '/v1/models',
    );
    const imageSize = models.body.models.find((m) => m.id === modelId)?.imageSize;
    expect(imageSize).toBeDefined();
    for (const frame of frames) {
      expect(frame.size).toEqual(imageSize);
      expect(frame.download).toBe(frame.src);
    }
    // The captions are two inputs, A then B.
    expect(
      await page.$$eval('[data-testid="result-input"] figcaption', (captions) =>
        captions.map((c) => c.textContent),
      ),
    ).toEqual(['Input A (red-circle.png)', 'Input B (red-square.png)']);
    // The job's API view lists the same three images, in the same order.
    const view = await api<{ params: { weights: number[] }; outputs: { images: { url: string }[] } }>(
      t.stack,
      'GET',
      `/v1/jobs/${jobId}`,
    );
    expect(view.body.params.weights).toEqual([0, 0.5, 1]);
    const path = (url: string) => new URL(url).pathname;
    expect(view.body.outputs.images.map((image) => path(image.url))).toEqual(
      frames.map((frame) => path(frame.src)),
    );
    await shot('interpolate');
  });

  it('lists recent jobs; choosing one shows it', async () => {
    await page.waitForFunction(() => document.querySelectorAll('#history button[data-job-id]').length >= 6);
    const ids = await page.$$eval('#history button[data-job-id]', (buttons) =>
      buttons.map((b) => (b as PageElement).dataset['jobId'] ?? ''),
    );
    const sampleId = (await textOf('#history')).match(/sample · obelm · succeeded · (job_\S+)/)?.[1];
    expect(ids).toContain(sampleId);
    await page.click(`#history button[data-job-id="${sampleId}"]`);
    await page.waitForFunction(
      (id) => document.getElementById('result-meta')?.textContent?.includes(id),
      {},
      sampleId,
    );
    expect(
      await page.$eval(`#history button[data-job-id="${sampleId}"]`, (b) => b.getAttribute('aria-current')),
    ).toBe('true');
  });

  it("shows the API's error code and message", async () => {
    await fill('#api-key', 'obelm_sk_not_a_real_key');
    await page.$eval('#api-key', (el) => el.dispatchEvent(new Event('change', { bubbles: true })));
    await page.waitForSelector('[data-testid="error-code"]');
    expect(await textOf('[data-testid="error-code"]')).toBe('unauthorized');
    expect(await page.$eval('#error', (el) => el.getAttribute('role'))).toBe('alert');
    await fill('#api-key', t.stack.devKey);
    await page.$eval('#api-key', (el) => el.dispatchEvent(new Event('change', { bubbles: true })));
    await page.waitForFunction(() => document.getElementById('error')?.hidden);
  });

  it('names every field for assistive technology, and runs from the keyboard', async () => {
    for (const kind of ['sample', 'edit', 'invert', 'reconstruct', 'interpolate']) {
      await chooseKind(kind);
      const fields = await page.$$('input, select, textarea');
      for (const field of fields) {
        const visible = await field.evaluate((el) => (el as PageElement).offsetParent !== null);
        if (!visible) continue;
        const node = await page.accessibility.snapshot({ root: field, interestingOnly: false });
        const id = await field.evaluate((el) => el.id);
        expect(node?.name?.trim(), `#${id} (${kind})`).toBeTruthy();
      }
    }
    await chooseKind('sample');
    await fill('#prompt', 'green star');
    await fill('#seed', '');
    const before = (await page.$$('#history button[data-job-id]')).length;
    // From the top of the page, Tab until the Run button has the focus, then Enter.
    await page.evaluate(() => document.activeElement?.blur());
    await page.$eval('h1', (h1) => {
      h1.tabIndex = -1;
      h1.focus();
    });
    let presses = 0;
    while ((await page.evaluate(() => document.activeElement?.id)) !== 'run') {
      expect(++presses, 'Tab presses to reach Run').toBeLessThan(80);
      await page.keyboard.press('Tab');
    }
    expect(await runToEnd(() => page.keyboard.press('Enter'))).toMatch(/^Job job_\S+: succeeded$/);
    expect(await textOf('#result-meta')).toMatch(/^sample · /);
    await page.waitForFunction(
      (n) => document.querySelectorAll('#history button[data-job-id]').length > n,
      {},
      before,
    );
  });

  it('fits a 390 px wide phone screen without scrolling sideways', async () => {
    // The page as the flows left it (results, compare view, history): a mobile emulation would reload it.
    await page.setViewport({ width: 390, height: 844 });
    await chooseKind('edit');
    expect(await page.$eval('#compare-view', (view) => (view as PageElement).hidden)).toBe(false);
    const widths = await page.evaluate(() => ({
      scroll: document.documentElement.scrollWidth,
      inner: window.innerWidth,
    }));
    expect(widths.scroll).toBeLessThanOrEqual(widths.inner);
    await shot('narrow');
    expect(pageErrors).toEqual([]);
  });
});
