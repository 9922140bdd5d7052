// Photos end to end, in Chromium as a phone: a worker attaches the 12 MP
// fixture with no signal and types on; back in signal the words reach a
// colleague before the photo, an upload cut off completes without a second
// copy, and the colleague sees the thumbnail.
import { expect } from '@playwright/test';
import { readdirSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  admin, test, watchForErrors, signIn, openCase, startVisit, openNewestVisit,
  syncStatus, waitUntilSynced, checkScreen, waitForOfflineShell, screenshot, launchProfile, unlock,
} from './support.mjs';

const fixtures = resolve(dirname(fileURLToPath(import.meta.url)), '../../../shared/fixtures/photos');
const OBSERVATIONS = 'What I saw and heard';

/** The fixtures are drawn red on top and blue below. */
async function expectUpright(img) {
  const [top, bottom] = await img.evaluate(i => {
    const c = new OffscreenCanvas(i.naturalWidth, i.naturalHeight);
    const g = c.getContext('2d');
    g.drawImage(i, 0, 0);
    const at = y => Array.from(g.getImageData(i.naturalWidth / 8, y, 1, 1).data);
    return [at(i.naturalHeight / 8), at(i.naturalHeight * 7 / 8)];
  });
  expect(top[0] > 150 && top[2] < 100, `top ${top}`).toBe(true);
  expect(bottom[2] > 150 && bottom[0] < 100, `bottom ${bottom}`).toBe(true);
}

test('a photo taken offline follows the words, survives a cut upload, and reaches a colleague', async ({ browser, practice, signedIn }) => {
  const alex = practice.person('Alex Worker');
  const blake = practice.person('Blake Worker');
  practice.assign(alex);
  practice.assign(blake);

  const w = await signedIn(alex);
  await openCase(w.page, practice.personName);
  await startVisit(w.page);
  await waitUntilSynced(w.page);
  await waitForOfflineShell(w.page);
  await w.context.setOffline(true);
  await expect(syncStatus(w.page)).toContainText('Offline');

  // Attached with no signal: made by the browser's decoder on the phone
  // and kept there.
  const picked = Date.now();
  await w.page.locator('#photo-input').setInputFiles(join(fixtures, 'phone-12mp-orientation6-gps.jpg'));
  const photos = w.page.getByRole('list', { name: 'Photos of this visit' });
  await expect(photos.locator('img.thumb')).toBeVisible({ timeout: 60_000 });
  console.log(`photo: 12 MP fixture picked to thumbnail shown in ${Date.now() - picked} ms`);
  await expect(photos.locator('.photo-state')).toHaveText('waiting to upload, after the words');
  const box = w.page.getByLabel(OBSERVATIONS, { exact: true });
  await box.click();
  await box.pressSequentially('The garden she planted herself.', { delay: 15 });
  await checkScreen(w.page, 'photos-offline');

  // Back in signal, on a slow link: each chunk (64 KiB) takes a second,
  // and the first is cut off once. (The browser's photo of the fixture
  // is about 50 KB, one chunk: resuming from a later chunk is tested
  // natively, tests/photos.rs.)
  // After the cut the photo is held back until the colleague has read
  // the words, so "the words first" does not depend on how fast the
  // colleague's phone opens the case.
  let chunks = 0;
  let cut = false;
  let total = 0;
  let release;
  const held = new Promise(r => { release = r; });
  await w.page.route('**/api/blobs/**', async route => {
    if (route.request().method() !== 'PUT') return route.continue();
    chunks += 1;
    total = Number(route.request().headers()['upload-length']);
    if (chunks === 1 && !cut) {
      cut = true;
      return route.abort('connectionreset');
    }
    await held;
    await new Promise(r => setTimeout(r, 1000));
    return route.continue();
  });
  await w.context.setOffline(false);

  // The words reach the colleague while the photo is still on its way.
  const c = await signedIn(blake);
  await openCase(c.page, practice.personName);
  await openNewestVisit(c.page);
  await expect(c.page.getByLabel(OBSERVATIONS, { exact: true })).toHaveValue('The garden she planted herself.', { timeout: 30_000 });
  await expect(photos.locator('.photo-state')).not.toHaveText('uploaded');
  release();

  // It goes on after the cut and arrives once.
  await expect(photos.locator('.photo-state')).toHaveText('uploaded', { timeout: 90_000 });
  expect(cut).toBe(true);
  // Each chunk went once, the one cut off twice: no second copy.
  expect(total).toBeGreaterThan(0);
  expect(chunks).toBe(Math.ceil(total / 65536) + 1);
  const cphotos = c.page.getByRole('list', { name: 'Photos of this visit' });
  await expect(cphotos.locator('img.thumb')).toBeVisible({ timeout: 30_000 });
  const size = await cphotos.locator('img.thumb').evaluate(img => [img.naturalWidth, img.naturalHeight]);
  expect(size).toEqual([320, 426]);
  await expectUpright(cphotos.locator('img.thumb'));
  await checkScreen(c.page, 'photos-colleague');

  // The practice's record at a desk shows it too, with the words.
  const rae = practice.person('Rae Reviewer', 'reviewer');
  practice.assign(rae);
  const deskContext = await browser.newContext({ viewport: { width: 1280, height: 800 }, isMobile: false, hasTouch: false, deviceScaleFactor: 1 });
  const desk = await deskContext.newPage();
  const deskErrors = watchForErrors(desk);
  await signIn(desk, practice.server.url, practice.code(rae));
  await desk.getByRole('list', { name: 'Cases' }).getByRole('button', { name: new RegExp(practice.personName) }).click();
  await expect(desk.getByRole('list', { name: 'Chronology, newest first' })).toBeVisible();
  await expect(desk.getByText('The garden she planted herself.')).toBeVisible();
  await expect(desk.getByRole('list', { name: 'Photos of this visit' }).locator('img.thumb')).toBeVisible({ timeout: 30_000 });
  await screenshot(desk, 'photos-case-record-desk');
  deskErrors();

  const stored = admin(practice.data, ['audit', '--action', 'blob_stored']);
  expect(stored.length).toBe(1);
  const partial = join(practice.data, 'blobs', 'partial');
  expect(existsSync(partial) ? readdirSync(partial) : []).toEqual([]);

  w.noErrors();
  c.noErrors();
});

test('a photo attached offline, turned upright by the browser, is there after the browser is killed at once', async ({ practice, profile }) => {
  const launch = () => launchProfile(profile);
  const alex = practice.person('Alex Worker');
  practice.assign(alex);
  let context = await launch();
  let page = context.pages()[0] ?? await context.newPage();
  await signIn(page, practice.server.url, practice.code(alex));
  await openCase(page, practice.personName);
  await startVisit(page);
  await waitUntilSynced(page);
  await waitForOfflineShell(page);
  const visitUrl = page.url();
  // No server: whatever comes back can only come from the phone's store.
  await practice.stop();
  await page.locator('#photo-input').setInputFiles(join(fixtures, 'phone-12mp-orientation6-gps.jpg'));
  // Kept once the button is ready again: the browser dies that instant.
  await expect(page.locator('label[for=photo-input]')).toHaveText('Take or add a photo', { timeout: 30_000 });
  // Made by the browser's own decoder, the app's only one there.
  expect(await page.evaluate(() => performance.getEntriesByName('fieldvisit photo: browser').length)).toBe(1);
  execFileSync('pkill', ['-KILL', '-f', `user-data-dir=${profile}`]);
  await context.close().catch(() => {});

  context = await launch();
  page = context.pages()[0] ?? await context.newPage();
  const noErrors = watchForErrors(page);
  await page.goto(visitUrl);
  await unlock(page);
  await expect(page.getByRole('heading', { level: 1, name: /^Visit on/ })).toBeVisible({ timeout: 30_000 });
  const photos = page.getByRole('list', { name: 'Photos of this visit' });
  await expect(photos.locator('img.thumb')).toBeVisible();
  await expect(photos.locator('.photo-state')).toHaveText('waiting to upload, after the words');
  await expectUpright(photos.locator('img.thumb'));
  noErrors();
  await context.close();
});

test('a browser that cannot make photos says so, keeps nothing, and the visit goes on', async ({ browser, practice }) => {
  const alex = practice.person('Alex Worker');
  practice.assign(alex);
  const context = await browser.newContext();
  // As Safari before 16.4: no OffscreenCanvas.
  await context.addInitScript(() => { delete globalThis.OffscreenCanvas; });
  const page = await context.newPage();
  const noErrors = watchForErrors(page);
  await signIn(page, practice.server.url, practice.code(alex));
  await openCase(page, practice.personName);
  await startVisit(page);
  await page.locator('#photo-input').setInputFiles(join(fixtures, 'small-upright-gps.jpg'));
  await expect(page.getByRole('alert').filter({ hasText: 'The photo was not added' }))
    .toContainText('this browser cannot make photos');
  const photos = page.getByRole('list', { name: 'Photos of this visit' });
  await expect(photos.locator('img.thumb')).toHaveCount(0);
  // A picture that is no picture is refused before any decoder, as ever.
  await page.locator('#photo-input').setInputFiles(join(fixtures, 'not-an-image.jpg'));
  await expect(page.getByRole('alert').filter({ hasText: 'The photo was not added' }))
    .toContainText('not a picture the app can read');
  // The words still go.
  const box = page.getByLabel(OBSERVATIONS, { exact: true });
  await box.click();
  await box.pressSequentially('No photo today.', { delay: 15 });
  await waitUntilSynced(page);
  await expect(photos.locator('img.thumb')).toHaveCount(0);
  noErrors();
  await context.close();
});
