import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { buildApp } from '../../src/app.js';
import { zipDirectory } from '../data/archive-fixtures.js';
import { testConfig } from '../helpers/build-app.js';
import { TEXT_FILE, writeShapesDataset } from '../helpers/image-fixtures.js';
import { tempDir } from '../helpers/temp-dir.js';
import { startWorkerProcess } from '../helpers/worker-process.js';
import { collectPageErrors, ensureDashboardBuilt, fitsViewport, launchChromium, waitForText } from './browser.js';

/**
 * The dashboard in a real browser (Debian's Chromium via playwright-core) against the real app, Redis and a real
 * training worker: upload, train 1+1 epochs at 32 px, watch it live, evaluate, predict; at desktop and phone
 * widths, with a clean console. Screenshots go to DASHBOARD_SCREENSHOT_DIR when set (CI artifacts), else a
 * temporary directory.
 */

let browser: Browser;
const cleanups: Array<() => unknown> = [];
before(async () => {
  await ensureDashboardBuilt();
  browser = await launchChromium({ after: (fn) => void cleanups.push(fn as () => unknown) });
});
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** A zip of 3 classes × 8 shapes, plus one text file the report must list as skipped. */
async function shapesZip(t: Parameters<typeof tempDir>[0]) {
  const work = await tempDir(t);
  const shapes = await writeShapesDataset(path.join(work, 'shapes'), { classes: 3, perClass: 8, size: 32, seed: 7 });
  await fs.writeFile(path.join(work, 'shapes', 'circle', 'notes.txt'), TEXT_FILE);
  const zip = path.join(work, 'shapes.zip');
  await zipDirectory(path.join(work, 'shapes'), zip);
  return { zip, shapes };
}

async function isPng(file: string): Promise<boolean> {
  const bytes = await fs.readFile(file);
  return bytes.length > 1000 && bytes.subarray(0, 8).equals(Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]));
}

/** Pixels of the loss chart's canvas drawn in the training series' colour (#1d4ed8): the curve itself. */
function curvePixels(page: Page): Promise<number> {
  // A string, evaluated in the page: the tests are compiled without the DOM's types.
  return page.evaluate(`(() => {
    const canvas = document.querySelector('[data-testid="loss-chart"] canvas');
    if (!canvas) return -1;
    const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
    let count = 0;
    for (let i = 0; i < data.length; i += 4) {
      const near = Math.abs(data[i] - 29) + Math.abs(data[i + 1] - 78) + Math.abs(data[i + 2] - 216);
      if (data[i + 3] > 200 && near < 60) count++;
    }
    return count;
  })()`);
}

test('upload, train 1+1 epochs at 32 px, watch it live, evaluate and predict, at 1280 and 390 px', async (t) => {
  const config = await testConfig(t);
  const app = await buildApp({ config, logger: false });
  t.after(() => app.close());
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  const worker = await startWorkerProcess(t, config);
  const { zip, shapes } = await shapesZip(t);
  const screenshots = process.env.DASHBOARD_SCREENSHOT_DIR ?? (await tempDir(t, 'effnet-screens-'));
  await fs.mkdir(screenshots, { recursive: true });

  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  t.after(() => context.close());
  const page = await context.newPage();
  const errors = collectPageErrors(page);
  await page.goto(base);

  // Keyboard: Tab reaches the upload's file input (the drop zone is its label).
  let tabs = 0;
  while (!(await page.evaluate(`document.activeElement?.dataset.testid === 'dataset-upload'`)) && tabs < 20) {
    await page.keyboard.press('Tab');
    tabs++;
  }
  assert.ok(tabs < 20, 'the file input is reachable with Tab');

  // Upload: the report lists the classes with counts and the skipped text file with its reason.
  await page.setInputFiles('[data-testid="dataset-upload"]', zip);
  await waitForText(page, 'dataset-report', 'triangle');
  const report = await page.textContent('[data-testid="dataset-report"]');
  assert.match(report!, /24 images in 3 classes/);
  assert.match(report!, /circle\s*8/);
  assert.match(report!, /notes\.txt/, 'the skipped file is listed');

  // Start a job: the common options, and batch sizes behind the "Advanced options" disclosure.
  await page.getByLabel('Weights').selectOption('none');
  await page.fill('[data-testid="image-size"]', '32');
  await page.fill('[data-testid="head-epochs"]', '1');
  await page.fill('[data-testid="finetune-epochs"]', '1');
  await page.getByLabel('Augmentation').uncheck();
  await page.getByText('Advanced options').click();
  await page.getByLabel('Head batch size').fill('8');
  await page.getByLabel('Fine-tune batch size').fill('8');
  await page.click('[data-testid="start-job"]');

  await waitForText(page, 'job-status', 'completed', 90_000).catch(async (error) => {
    const status = await page.textContent('[data-testid="job-status"]').catch(() => null);
    throw new Error(`${error}\nstatus: ${status}\nworker: ${worker.output().slice(-3000)}\npage: ${errors.join('\n')}`);
  });
  assert.ok((await curvePixels(page)) > 20, 'the loss chart draws the training curve');
  const jobText = await page.textContent('#job');
  assert.match(jobText!, /Parameters per phase/);
  assert.match(jobText!, /Fine-tune \(1 epochs\)\s*[\d,]+/, 'the fine-tune phase has its parameter counts');

  // The model: evaluation, artifact links and curl examples with its id.
  await page.waitForSelector('[data-testid="predict-upload"]', { state: 'attached', timeout: 15_000 });
  const modelId = (await page.getAttribute('[data-model-id]', 'data-model-id'))!;
  assert.match(modelId, /\S/);
  const modelText = await page.textContent('#model');
  assert.match(modelText!, /Confusion matrix/);
  assert.match(modelText!, new RegExp(`${modelId}/predict\\?topK=5`));
  assert.match(modelText!, new RegExp(`${modelId}/features\\?normalize=l2`));
  assert.equal(
    await page.getAttribute('#model a[download$=".onnx"]', 'href'),
    `/v1/models/${modelId}/artifact?format=onnx`,
  );

  // Predict an image: the bars show the same top label as the API gives for it.
  const image = shapes.train[0]!.path;
  await page.setInputFiles('[data-testid="predict-upload"]', image);
  await waitForText(page, 'prediction-result', 'Top class');
  const form = new FormData();
  form.append('file', new Blob([await fs.readFile(image)]), 'image.png');
  const direct = (await (
    await fetch(`${base}/v1/models/${modelId}/predict`, { method: 'POST', body: form })
  ).json()) as {
    predictions: Array<{ label: string }>;
  };
  const result = await page.textContent('[data-testid="prediction-result"]');
  assert.match(result!, new RegExp(`Top class: ${direct.predictions[0]!.label}`));
  assert.equal(await page.locator('[data-testid="prediction-result"] ol.bars li').count(), 3, 'one bar per class');

  // Both widths: nothing scrolls sideways; full-page screenshots.
  assert.ok(await fitsViewport(page), 'no horizontal scrolling at 1280 px');
  const desktop = path.join(screenshots, 'dashboard-1280.png');
  await page.screenshot({ path: desktop, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(200); // the charts resize on the next frame
  assert.ok(await fitsViewport(page), 'no horizontal scrolling at 390 px');
  const phone = path.join(screenshots, 'dashboard-390.png');
  await page.screenshot({ path: phone, fullPage: true });
  assert.ok(await isPng(desktop), `${desktop} is a PNG`);
  assert.ok(await isPng(phone), `${phone} is a PNG`);
  t.diagnostic(`screenshots: ${desktop}, ${phone}`);

  assert.deepEqual(errors, [], 'no errors on the console');
});

test('with API_KEYS the page asks for a key, keeps it for the tab, and sends it (also to the event stream)', async (t) => {
  const key = 'dashboard-test-key';
  const config = await testConfig(t, { API_KEYS: key });
  const app = await buildApp({ config, logger: false });
  t.after(() => app.close());
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  assert.equal((await fetch(`${base}/v1/datasets`)).status, 401, 'the API itself needs the key');
  const { zip } = await shapesZip(t);

  const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  t.after(() => context.close());
  const page = await context.newPage();
  const errors = collectPageErrors(page);
  const urls: string[] = [];
  page.on('request', (request) => urls.push(request.url()));
  const streams: number[] = [];
  page.on('response', (response) => {
    if (/\/v1\/jobs\/[^/]+\/events$/.test(response.url())) streams.push(response.status());
  });
  await page.goto(base);

  // A wrong key is refused and asked for again (its 401 is the one expected console error).
  await page.getByLabel('API key', { exact: true }).fill('not-the-key');
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByText('The server refused the key').waitFor();
  await page.getByLabel('API key', { exact: true }).fill(key);
  await page.getByRole('button', { name: 'Continue' }).click();

  await page.setInputFiles('[data-testid="dataset-upload"]', zip);
  await waitForText(page, 'dataset-report', 'square');

  // No worker runs, so the job stays queued: its status arrives over the authenticated event stream, and the
  // cancel button ends it.
  await page.getByLabel('Weights').selectOption('none');
  await page.fill('[data-testid="image-size"]', '32');
  await page.click('[data-testid="start-job"]');
  await waitForText(page, 'job-status', 'queued');
  await page.locator('#job').getByRole('button', { name: 'Cancel job' }).click();
  await waitForText(page, 'job-status', 'cancelled');
  assert.ok(streams.length > 0 && streams.every((status) => status === 200), `event streams: ${streams.join(' ')}`);

  // The key survives a reload of the tab (session storage), and never appears in a URL.
  await page.reload();
  await page.getByRole('heading', { name: 'Datasets' }).waitFor();
  assert.equal(await page.getByLabel('API key', { exact: true }).count(), 0, 'no prompt after a reload');
  await page.locator('#datasets li').first().waitFor();
  assert.equal(await page.evaluate(`sessionStorage.getItem('effnet-tl.api-key')`), key);
  assert.ok(urls.length > 5 && urls.every((url) => !url.includes(key)), 'the key is never in a URL');

  // Delete asks first: Cancel keeps the dataset, Delete removes it.
  await page
    .locator('#datasets')
    .getByRole('button', { name: /^Delete dataset/ })
    .click();
  await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
  assert.equal(await page.locator('#datasets li').count(), 1);
  await page
    .locator('#datasets')
    .getByRole('button', { name: /^Delete dataset/ })
    .click();
  await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
  await page.locator('#datasets').getByText('No datasets yet').waitFor();
  const listed = await fetch(`${base}/v1/datasets`, { headers: { authorization: `Bearer ${key}` } });
  assert.deepEqual(((await listed.json()) as { datasets: unknown[] }).datasets, []);

  const unexpected = errors.filter((e) => !/status of 401/.test(e));
  assert.deepEqual(unexpected, [], 'no errors on the console besides the refused key');
});
