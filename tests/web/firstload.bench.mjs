// The app's first load on a phone's link, and its start with no network
// (a benchmark: it prints a table and asserts nothing about time).
//
// The link is 1.6 Mbit/s down with 150 ms round trips, shared by every
// connection the page and its service worker open (link.mjs), as on a real
// phone. A first visit runs from typing the address to the sign-in screen,
// then on until the service worker has cached the app; the bytes are all
// that crossed the link. The offline start is a reload with no network at
// all: the app comes from the worker's cache.
import { test, expect } from '@playwright/test';
import { statSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPractice, waitForOfflineShell } from './support.mjs';
import { startLink } from './link.mjs';

const webDir = join(resolve(dirname(fileURLToPath(import.meta.url)), '../..'), 'target/web');
const RUNS = Number(process.env.RUNS ?? 3);
const LINK = { downBytesPerSecond: 1_600_000 / 8, rttMs: 150 };

const median = xs => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const signIn = page => page.getByRole('heading', { name: 'Sign in to Fieldvisit' });

test('first load on a phone link, and offline start-up', async ({ browser }) => {
  const practice = await startPractice();
  const rows = [];
  try {
    for (let run = 0; run < RUNS; run++) {
      const link = await startLink(practice.server.url, LINK);
      const context = await browser.newContext();
      const page = await context.newPage();
      const started = Date.now();
      await page.goto(link.url, { waitUntil: 'commit', timeout: 120_000 });
      await expect(signIn(page)).toBeVisible({ timeout: 120_000 });
      const signInAt = Date.now() - started;
      const atSignIn = link.stats.down;
      await waitForOfflineShell(page);
      const cachedAt = Date.now() - started;
      const whole = link.stats.down + link.stats.up;

      await context.setOffline(true);
      const reloaded = Date.now();
      await page.reload();
      await expect(signIn(page)).toBeVisible();
      const offlineShown = Date.now() - reloaded;
      const paint = await page.evaluate(() =>
        performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null);
      rows.push({ signInAt, atSignIn, cachedAt, whole, offlineShown, paint });
      await context.close();
      await link.close();
    }
  } finally {
    await practice.cleanup();
  }
  const wasm = statSync(join(webDir, 'fieldvisit_bg.wasm')).size;
  const wasmBr = statSync(join(webDir, 'fieldvisit_bg.wasm.br')).size;
  const kb = n => (n / 1000).toFixed(0);
  const s = ms => (ms / 1000).toFixed(1);
  const col = f => median(rows.map(f));
  console.log(`
First load: 1.6 Mbit/s down, 150 ms round trip, page and service worker on one link
(wasm ${kb(wasm)} KB as built, ${kb(wasmBr)} KB brotli; median of ${RUNS} runs)

| measure | median | runs |
| --- | --- | --- |
| sign-in screen shown, s | ${s(col(r => r.signInAt))} | ${rows.map(r => s(r.signInAt)).join(', ')} |
| transferred by then, KB | ${kb(col(r => r.atSignIn))} | ${rows.map(r => kb(r.atSignIn)).join(', ')} |
| app cached for offline, s | ${s(col(r => r.cachedAt))} | ${rows.map(r => s(r.cachedAt)).join(', ')} |
| whole first visit transferred (both ways), KB | ${kb(col(r => r.whole))} | ${rows.map(r => kb(r.whole)).join(', ')} |
| offline start: sign-in screen shown, ms | ${col(r => r.offlineShown)} | ${rows.map(r => r.offlineShown).join(', ')} |
| offline start: first contentful paint, ms | ${col(r => r.paint ?? 0).toFixed(0)} | ${rows.map(r => (r.paint ?? 0).toFixed(0)).join(', ')} |
`);
});
