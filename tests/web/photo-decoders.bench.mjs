// Processing a photo in Chromium as a phone, on the 12 MP fixture, with the
// browser's own decoder and encoder (createImageBitmap + OffscreenCanvas,
// called from Rust through web-sys). The photos issue compared it with our
// `image` pipeline compiled to wasm (BENCHMARKS.md); the browser's was
// faster and smaller, and ours has since left the browser's build. The app
// leaves a `performance` measure per photo (`fieldvisit photo: browser`:
// processing only); picked-to-ready adds reading the file and the app's
// round (the same picture again is the same photo, so it is stored once, in
// the warm-up run). Prints a table for BENCHMARKS.md.
import { test } from '@playwright/test';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { startPractice, signIn, openCase, startVisit, waitUntilSynced } from './support.mjs';

const fixtures = resolve(dirname(fileURLToPath(import.meta.url)), '../../../shared/fixtures/photos');
const FIXTURE = 'phone-12mp-orientation6-gps.jpg';
const RUNS = Number(process.env.RUNS || 7);

const median = xs => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

test('photo processing in the browser', async ({ browser }) => {
  const practice = await startPractice();
  try {
    const alex = practice.person('Alex Worker');
    practice.assign(alex);
    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page, practice.server.url, practice.code(alex));
    await openCase(page, practice.personName);
    await startVisit(page);
    await waitUntilSynced(page);
    const ready = page.locator('label[for=photo-input]');
    const rows = [];
    for (const decoder of ['browser']) {
      const process = [];
      const shown = [];
      for (let run = 0; run <= RUNS; run += 1) {
        const since = await page.evaluate(() => performance.now());
        const picked = Date.now();
        await page.locator('#photo-input').setInputFiles(join(fixtures, FIXTURE));
        const measured = await page.waitForFunction(
          ([name, since]) => performance.getEntriesByName(name).find(m => m.startTime >= since)?.duration,
          [`fieldvisit photo: ${decoder}`, since],
          { timeout: 60_000 },
        );
        const ms = await measured.jsonValue();
        const refused = page.getByText('The photo was not added');
        if (await refused.count()) throw new Error(await refused.innerText());
        await page.getByRole('list', { name: 'Photos of this visit' }).locator('img.thumb').last().waitFor();
        await test.expect(ready).toHaveText('Take or add a photo', { timeout: 60_000 });
        // The first run warms the decoder.
        if (run > 0) {
          process.push(ms);
          shown.push(Date.now() - picked);
        }
      }
      // The photo this decoder made: the one on screen that is new. Its
      // bytes, its size, and whether it is upright (the fixture's red half
      // on top).
      const made = await page.getByRole('list', { name: 'Photos of this visit' }).locator('img.thumb').evaluateAll(
        async (imgs, earlier) => {
          const img = imgs.find(i => !earlier.includes(i.src));
          if (!img) throw new Error(`no new photo among ${imgs.length}: ${imgs.map(i => i.src.slice(0, 40) + i.src.length)} earlier ${earlier.map(e => e.slice(0, 40) + e.length)}`);
          const bytes = (await (await fetch(img.src)).arrayBuffer()).byteLength;
          const c = new OffscreenCanvas(img.naturalWidth, img.naturalHeight);
          const g = c.getContext('2d');
          g.drawImage(img, 0, 0);
          const at = y => g.getImageData(img.naturalWidth / 8, y, 1, 1).data;
          const top = at(img.naturalHeight / 8);
          const bottom = at(img.naturalHeight * 7 / 8);
          const upright = top[0] > 150 && top[2] < 100 && bottom[2] > 150 && bottom[0] < 100;
          return { src: img.src, bytes, size: `${img.naturalWidth} x ${img.naturalHeight}`, upright };
        }, rows.map(r => r.src));
      rows.push({ decoder, ...made, process: median(process), shown: median(shown), min: Math.min(...process), max: Math.max(...process) });
    }
    const before = readFileSync(join(fixtures, FIXTURE)).length;
    console.log(`\n${FIXTURE}: ${before} bytes in; ${RUNS} runs each, after one to warm up`);
    console.log('| decoder | process (ms, median) | min | max | picked to ready again (ms, median) | bytes out | size out | upright |');
    console.log('|---------|----------------------|-----|-----|------------------------------------|-----------|----------|---------|');
    for (const r of rows) {
      console.log(`| ${r.decoder} | ${r.process.toFixed(0)} | ${r.min.toFixed(0)} | ${r.max.toFixed(0)} | ${r.shown} | ${r.bytes} | ${r.size} | ${r.upright ? 'yes' : 'NO'} |`);
    }
    await context.close();
  } finally {
    await practice.cleanup();
  }
});
