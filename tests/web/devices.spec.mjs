// A lost phone, in Chromium: the worker revokes it from their tablet,
// warned first of what it held unsent; when the phone next reaches the
// server it deletes everything it stored, says so to the server (audited),
// and shows the sign-in screen with the reason.
import { expect } from '@playwright/test';
import {
  admin, test, watchForErrors, signIn, openCase, startVisit,
  waitUntilSynced, checkScreen, waitForOfflineShell, syncStatus, launchProfile, unlock, filesHolding, PIN,
} from './support.mjs';

/** Whether the page's origin still has the platform key's database. */
const keystoreExists = page => page.evaluate(async () =>
  (await indexedDB.databases()).some(d => d.name === 'fieldvisit-keystore'));

/** The platform key, as script on the page sees it. */
const platformKey = page => page.evaluate(() => new Promise((resolve, reject) => {
  const open = indexedDB.open('fieldvisit-keystore');
  open.onerror = () => reject(open.error);
  open.onsuccess = () => {
    const get = open.result.transaction('keys').objectStore('keys').get('device');
    get.onerror = () => reject(get.error);
    get.onsuccess = async () => {
      const key = get.result;
      open.result.close();
      let exported = 'refused';
      try { await crypto.subtle.exportKey('raw', key); exported = 'exported'; } catch { }
      resolve({ type: key.type, extractable: key.extractable, algorithm: key.algorithm.name, usages: key.usages, exported });
    };
  };
}));

test('a phone revoked while offline wipes itself when it comes back', async ({ browser, practice, profile, signedIn }) => {
  const alex = practice.person('Alex Worker');
  practice.assign(alex);

  // The phone (a browser profile on disk, to be read afterwards): a
  // visit typed, synced, then more words with no signal.
  const phoneContext = await launchProfile(profile);
  const phone = phoneContext.pages()[0] ?? await phoneContext.newPage();
  const phoneErrors = watchForErrors(phone);
  let token;
  phone.on('response', async r => {
    if (r.url().endsWith('/api/enrol') && r.ok()) token = (await r.json()).token;
  });
  await signIn(phone, practice.server.url, practice.code(alex));
  await openCase(phone, practice.personName);
  await startVisit(phone);
  const box = phone.getByLabel('What I saw and heard', { exact: true });
  await box.click();
  await box.pressSequentially('The kettle was on when I arrived.', { delay: 10 });
  await waitUntilSynced(phone);
  await waitForOfflineShell(phone);
  await phoneContext.setOffline(true);
  await expect(syncStatus(phone)).toContainText('Offline');
  await box.pressSequentially(' Words that never left the phone.', { delay: 10 });

  // Even before any wipe, the phone's profile holds neither what was
  // typed nor the token: everything the app stores is sealed.
  await phone.waitForTimeout(1500);
  expect(token).toBeTruthy();
  expect(filesHolding(profile, ['The kettle was on', 'never left the phone', token])).toEqual([]);

  // The tablet: the worker's devices, the warning, the revocation.
  const { context: tabletContext, page: tablet, noErrors: tabletErrors } = await signedIn(alex);
  await tablet.getByRole('link', { name: 'Your devices' }).click();
  await expect(tablet.getByRole('heading', { level: 1, name: 'Devices' })).toBeVisible();
  const devices = tablet.getByRole('list', { name: 'Devices' });
  await expect(devices.getByRole('listitem')).toHaveCount(2);
  const lost = devices.getByRole('listitem').filter({ hasNot: tablet.getByRole('heading', { name: /this device/ }) });
  await expect(lost).toContainText('last synced');
  await lost.getByRole('button', { name: 'Revoke…' }).click();
  await expect(lost.getByRole('alert')).toContainText('lost when it is revoked');
  // Whoever holds the tablet unlocked is asked for the PIN again: a
  // wrong one revokes nothing.
  await lost.getByLabel('Your PIN, to confirm it is you').fill('000000');
  await lost.getByRole('button', { name: /^Revoke / }).click();
  await expect(lost.getByRole('alert').filter({ hasText: 'nothing was revoked' })).toContainText('4 tries left');
  expect(admin(practice.data, ['devices', '--person', alex]).filter(d => d.revoked_at)).toEqual([]);
  await lost.getByLabel('Your PIN, to confirm it is you').fill(PIN);
  await checkScreen(tablet, 'devices-revoke-warning');
  await lost.getByRole('button', { name: /^Revoke / }).click();
  await expect(tablet.getByRole('status').filter({ hasText: 'Revoked.' })).toBeVisible();
  await expect(lost).toContainText('not yet wiped');
  await expect(lost).toContainText('by Alex');
  const [{ device_id: lostId }] = admin(practice.data, ['devices', '--person', alex])
    .filter(d => d.revoked_at);

  // Back in signal: the phone is told, wipes, and starts again.
  await phoneContext.setOffline(false);
  await expect(phone.getByRole('heading', { name: 'Sign in to Fieldvisit' })).toBeVisible({ timeout: 20_000 });
  await expect(phone.getByRole('alert')).toContainText('revoked this device');
  await checkScreen(phone, 'devices-phone-wiped');
  const wiped = admin(practice.data, ['audit', '--action', 'device_wiped']);
  expect(wiped.map(e => e.device_id)).toEqual([lostId]);
  expect(await phone.evaluate(() => Object.keys(localStorage).filter(k => k.startsWith('fieldvisit.draft')))).toEqual([]);
  expect(await keystoreExists(phone)).toBe(false);
  // Opened again, it has nothing: no enrolment, no records.
  await phone.reload();
  await expect(phone.getByRole('heading', { name: 'Sign in to Fieldvisit' })).toBeVisible({ timeout: 20_000 });
  await expect(phone.getByRole('alert')).toHaveCount(0);

  // Nothing of what was typed, nor the token, is left in the profile.
  await phoneContext.close();
  expect(token).toBeTruthy();
  expect(filesHolding(profile, ['The kettle was on', 'never left the phone', token])).toEqual([]);

  // The tablet sees it wiped.
  await tablet.reload();
  await unlock(tablet);
  await expect(tablet.getByRole('list', { name: 'Devices' }).getByRole('listitem').filter({ hasNotText: 'this device' }))
    .toContainText('wiped', { timeout: 10_000 });
  phoneErrors();
  tabletErrors();
});

test('a page out of sight shows nothing of a case (the app switcher sees a blank page)', async ({ browser, practice, signedIn }) => {
  const alex = practice.person('Alex Worker');
  practice.assign(alex);
  const { context, page, noErrors: errors } = await signedIn(alex);
  await openCase(page, practice.personName);
  await startVisit(page);
  const main = page.locator('main');
  await expect(main).toBeVisible();
  // Headless Chromium keeps every tab "visible", so the page is told it
  // is hidden the way a phone tells it (the state, then the event).
  const setVisibility = state => page.evaluate(s => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => s });
    document.dispatchEvent(new Event('visibilitychange'));
  }, state);
  await setVisibility('hidden');
  await expect(main).toBeHidden();
  await setVisibility('visible');
  await expect(main).toBeVisible();
  errors();
  await context.close();
});

test('the app locks when left alone, and five wrong PINs delete everything after a warning', async ({ browser, practice }) => {
  const alex = practice.person('Alex Worker');
  practice.assign(alex);
  const context = await browser.newContext();
  const page = await context.newPage();
  // The page's clock is the test's: five idle minutes pass at once.
  await page.clock.install();
  const errors = watchForErrors(page);
  await signIn(page, practice.server.url, practice.code(alex));
  await openCase(page, practice.personName);
  await startVisit(page);
  await page.clock.fastForward('04:00');
  await expect(page.getByRole('heading', { level: 1, name: /^Visit on/ })).toBeVisible();
  await page.clock.fastForward('01:30');
  await expect(page.getByRole('heading', { name: 'Unlock Fieldvisit' })).toBeVisible({ timeout: 15_000 });
  await expect(page.locator('main')).not.toContainText('Visit on');
  await checkScreen(page, 'devices-locked');
  await unlock(page);
  await expect(page.getByRole('heading', { level: 1, name: /^Visit on/ })).toBeVisible();

  // The idle time is the worker's to choose on the Devices screen.
  await page.evaluate(() => { location.hash = '#/devices'; });
  await expect(page.getByRole('heading', { level: 1, name: 'Devices' })).toBeVisible();
  const lockAfter = page.getByLabel('Ask for the PIN after');
  await expect(lockAfter).toHaveValue('5');
  await lockAfter.selectOption('1');
  await expect(page.getByRole('status').filter({ hasText: 'locks after 1 idle minute' })).toBeVisible();
  await page.clock.fastForward('00:45');
  await expect(page.getByRole('heading', { level: 1, name: 'Devices' })).toBeVisible();
  await page.clock.fastForward('00:30');
  await expect(page.getByRole('heading', { name: 'Unlock Fieldvisit' })).toBeVisible({ timeout: 15_000 });
  await unlock(page);
  await expect(page.getByLabel('Ask for the PIN after')).toHaveValue('1');

  // Locked again, then wrong PINs: each says how many tries are left,
  // the fourth what a wipe would lose, the fifth wipes.
  await page.reload();
  const pin = page.getByLabel('Your PIN');
  for (const left of [4, 3, 2]) {
    await pin.fill('000111');
    await page.getByRole('button', { name: 'Unlock' }).click();
    await expect(page.getByRole('alert')).toContainText(`${left} tries left`);
  }
  await pin.fill('000111');
  await page.getByRole('button', { name: 'Unlock' }).click();
  await expect(page.getByRole('alert')).toContainText('One more wrong PIN deletes everything');
  await checkScreen(page, 'devices-last-pin-warning');
  await pin.fill('000111');
  await page.getByRole('button', { name: 'Unlock' }).click();
  await expect(page.getByRole('heading', { name: 'Sign in to Fieldvisit' })).toBeVisible({ timeout: 20_000 });
  await expect(page.getByRole('alert')).toContainText('Five wrong PINs');
  expect(await keystoreExists(page)).toBe(false);
  // Nothing left to unlock.
  await page.reload();
  await expect(page.getByRole('heading', { name: 'Sign in to Fieldvisit' })).toBeVisible({ timeout: 20_000 });
  errors();
  await context.close();
});

test("the store is locked to this browser's own key, which script cannot read", async ({ browser, practice, signedIn }) => {
  const alex = practice.person('Alex Worker');
  practice.assign(alex);
  const { context, page, noErrors: errors } = await signedIn(alex);
  await openCase(page, practice.personName);
  expect(await platformKey(page)).toEqual({
    type: 'secret', extractable: false, algorithm: 'AES-GCM', usages: ['encrypt', 'decrypt'], exported: 'refused',
  });

  // The browser's key gone (site data partly cleared): the right PIN
  // opens nothing, and is not counted as a wrong one.
  await page.evaluate(() => new Promise((resolve, reject) => {
    const r = indexedDB.deleteDatabase('fieldvisit-keystore');
    r.onsuccess = resolve;
    r.onerror = () => reject(r.error);
  }));
  await page.reload();
  await unlock(page);
  await expect(page.getByRole('heading', { name: 'This device can no longer open its records' })).toBeVisible();
  await expect(page.getByRole('alert')).toContainText('Nothing was counted as a wrong PIN');
  await checkScreen(page, 'devices-platform-key-lost');
  await page.getByRole('button', { name: 'Sign in with a new code' }).click();
  await expect(page.getByRole('heading', { name: 'Sign in to Fieldvisit' })).toBeVisible();

  // A new code starts again from nothing, under a new key.
  await signIn(page, practice.server.url, practice.code(alex));
  await openCase(page, practice.personName);
  expect((await platformKey(page)).extractable).toBe(false);
  errors();
  await context.close();
});
