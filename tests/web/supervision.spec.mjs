// Supervision end to end: a worker's phone and a supervisor's (a phone, or
// a desktop browser at 1280 x 800), the real server, Debian's Chromium.
// Annotations stay on their words through edits made offline; a visit is
// submitted, returned with comments, resubmitted and signed off; after
// sign-off the words are read-only and an addendum is the way to add; edits
// made offline beside a sign-off are kept and shown.
import { expect } from '@playwright/test';
import {
  test, watchForErrors, signIn, openCase, startVisit, openNewestVisit,
  syncStatus, waitUntilSynced, checkScreen, waitForOfflineShell,
} from './support.mjs';

const OBSERVATIONS = 'What I saw and heard';

/** A supervisor at an office desk: the same app at desktop size. */
const desk = { viewport: { width: 1280, height: 800 }, isMobile: false, hasTouch: false, deviceScaleFactor: 1 };

async function phone(browser, practice, personId, size = {}) {
  const context = await browser.newContext(size);
  const page = await context.newPage();
  const noErrors = watchForErrors(page);
  await signIn(page, practice.server.url, practice.code(personId));
  return { context, page, noErrors };
}

/** A worker with a supervisor, both on the practice's case. */
async function team(practice) {
  const sam = practice.person('Sam Supervisor', 'supervisor');
  const alex = practice.person('Alex Worker', 'worker', sam);
  practice.assign(alex);
  return { sam, alex };
}

async function typeAtEnd(page, label, text) {
  const box = page.getByLabel(label, { exact: true });
  await box.click();
  await box.press('Control+End');
  await box.pressSequentially(text, { delay: 15 });
}

/** Puts the caret (or a selection) at character offsets of a text box. */
async function select(page, label, from, to = from) {
  await page.getByLabel(label, { exact: true }).evaluate((el, [a, b]) => {
    el.focus();
    el.setSelectionRange(a, b);
  }, [from, to]);
}

async function openVisitAsSupervisor(page, practice) {
  await openCase(page, practice.personName);
  await openNewestVisit(page);
}

test('an annotation stays on its words through edits made offline, on both phones', async ({ browser, practice }) => {
  const { sam, alex } = await team(practice);
  const w = await phone(browser, practice, alex);
  await openCase(w.page, practice.personName);
  await startVisit(w.page);
  const text = 'She showed me the garden. She wants to stay at home.';
  await typeAtEnd(w.page, OBSERVATIONS, text);
  await waitUntilSynced(w.page);
  await waitForOfflineShell(w.page);
  await w.context.setOffline(true);
  await expect(syncStatus(w.page)).toContainText('Offline');

  const s = await phone(browser, practice, sam);
  await openVisitAsSupervisor(s.page, practice);
  await expect(s.page.getByLabel(OBSERVATIONS)).toHaveValue(text);
  const words = 'wants to stay';
  const at = text.indexOf(words);
  await select(s.page, OBSERVATIONS, at, at + words.length);
  await s.page.getByRole('button', { name: 'Comment on words selected in my observations' }).click();
  await s.page.getByLabel('Your comment').fill('In her words, or yours?');
  await s.page.getByRole('button', { name: 'Save comment' }).click();
  const sNotes = s.page.getByRole('list', { name: 'Supervisor comments on my observations' });
  await expect(sNotes.locator('mark')).toHaveText(words);
  await waitUntilSynced(s.page);
  await checkScreen(s.page, 'supervision-annotation');

  // The worker, still offline, writes before the sentence and inside it.
  await select(w.page, OBSERVATIONS, 0);
  await w.page.getByLabel(OBSERVATIONS, { exact: true }).pressSequentially('Sunny. ', { delay: 15 });
  const inside = 'Sunny. '.length + text.indexOf('to stay');
  await select(w.page, OBSERVATIONS, inside);
  await w.page.getByLabel(OBSERVATIONS, { exact: true }).pressSequentially('very much ', { delay: 15 });
  const edited = 'Sunny. She showed me the garden. She wants very much to stay at home.';
  await expect(w.page.getByLabel(OBSERVATIONS)).toHaveValue(edited);
  await w.context.setOffline(false);
  await waitUntilSynced(w.page);

  // Both phones mark the same words: the annotated ones, as edited.
  const wNotes = w.page.getByRole('list', { name: 'Supervisor comments on my observations' });
  await expect(wNotes.locator('mark')).toHaveText('wants very much to stay', { timeout: 30_000 });
  await expect(wNotes).toContainText('In her words, or yours?');
  await expect(s.page.getByLabel(OBSERVATIONS)).toHaveValue(edited, { timeout: 30_000 });
  await expect(sNotes.locator('mark')).toHaveText('wants very much to stay');
  w.noErrors();
  s.noErrors();
});

test('submit, return with comments, resubmit, sign off; then the words are read-only and an addendum is added', async ({ browser, practice }) => {
  const { sam, alex } = await team(practice);
  const w = await phone(browser, practice, alex);
  await openCase(w.page, practice.personName);
  await startVisit(w.page);
  await typeAtEnd(w.page, OBSERVATIONS, 'Met in the kitchen.');
  await w.page.getByRole('button', { name: 'Submit for review' }).click();
  await expect(w.page.locator('.status')).toHaveText('Submitted for review');
  await waitUntilSynced(w.page);
  await waitForOfflineShell(w.page);
  await w.context.setOffline(true);

  // The supervisor's queue, at a desk; the visit returned with comments.
  const s = await phone(browser, practice, sam, desk);
  const queue = s.page.getByRole('list', { name: 'Waiting for your review' });
  await expect(queue.getByRole('button')).toHaveCount(1, { timeout: 30_000 });
  await checkScreen(s.page, 'supervision-review-queue-desktop');
  await queue.getByRole('button').click();
  await s.page.getByLabel('Comments for the worker').fill('Say what she said about the garden.');
  await s.page.getByRole('button', { name: 'Return with comments' }).click();
  await expect(s.page.locator('.status')).toHaveText('Returned for changes');
  await waitUntilSynced(s.page);

  // Back online, the worker is told, prominently.
  await w.context.setOffline(false);
  await waitUntilSynced(w.page);
  const banner = w.page.getByRole('alert').filter({ hasText: 'Returned for changes' });
  await expect(banner).toContainText('Say what she said about the garden.', { timeout: 30_000 });
  await checkScreen(w.page, 'supervision-returned');
  await w.page.getByRole('button', { name: '← Case' }).click();
  await w.page.getByRole('button', { name: '← My cases' }).click();
  const returned = w.page.getByRole('list', { name: 'Returned to you for changes' });
  await expect(returned.getByRole('button')).toHaveCount(1);
  await checkScreen(w.page, 'supervision-returned-to-you');
  await returned.getByRole('button').click();
  await typeAtEnd(w.page, OBSERVATIONS, ' She said: "the roses are mine".');
  await w.page.getByRole('button', { name: 'Submit for review' }).click();
  await waitUntilSynced(w.page);

  await expect(s.page.locator('.status')).toHaveText('Submitted for review', { timeout: 30_000 });
  await s.page.getByRole('button', { name: 'Sign off' }).click();
  await expect(s.page.locator('.status')).toHaveText('Signed off');
  await waitUntilSynced(s.page);
  await checkScreen(s.page, 'supervision-sign-off-desktop');

  // Signed off: the words cannot be changed here; an addendum can be added.
  await expect(w.page.locator('.status')).toHaveText('Signed off', { timeout: 30_000 });
  const box = w.page.getByLabel(OBSERVATIONS, { exact: true });
  await expect(box).toHaveAttribute('readonly', /.*/);
  const before = await box.inputValue();
  await box.click();
  await box.press('Control+End');
  await box.pressSequentially(' changed', { delay: 15 });
  await expect(box).toHaveValue(before);
  await w.page.getByLabel('Add an addendum').fill('She rang the next day to say thank you.');
  await w.page.getByRole('button', { name: 'Add addendum' }).click();
  const addenda = w.page.locator('li.addendum');
  await expect(addenda).toHaveCount(1);
  await expect(addenda).toContainText('She rang the next day to say thank you.');
  await expect(addenda).toContainText('Addendum by');
  await waitUntilSynced(w.page);
  await checkScreen(w.page, 'supervision-addendum');
  await expect(s.page.locator('li.addendum')).toContainText('She rang the next day', { timeout: 30_000 });
  const history = s.page.locator('ol.history li');
  await expect(history).toHaveCount(4);
  // People by name, never by id.
  await expect(history.first()).toContainText('Submitted by Alex Worker');
  await expect(history.nth(1)).toContainText('Returned by Sam Supervisor');
  await expect(addenda).toContainText('Addendum by Alex Worker');
  w.noErrors();
  s.noErrors();
});

test('edits made offline while the supervisor signs off are kept and shown as changed after sign-off', async ({ browser, practice }) => {
  const { sam, alex } = await team(practice);
  const w = await phone(browser, practice, alex);
  await openCase(w.page, practice.personName);
  await startVisit(w.page);
  await typeAtEnd(w.page, OBSERVATIONS, 'Met in the kitchen.');
  await w.page.getByRole('button', { name: 'Submit for review' }).click();
  await waitUntilSynced(w.page);
  await waitForOfflineShell(w.page);
  await w.context.setOffline(true);
  await typeAtEnd(w.page, OBSERVATIONS, ' The heating was off.');

  const s = await phone(browser, practice, sam);
  await openVisitAsSupervisor(s.page, practice);
  await expect(s.page.getByLabel(OBSERVATIONS)).toHaveValue('Met in the kitchen.');
  await s.page.getByRole('button', { name: 'Sign off' }).click();
  await waitUntilSynced(s.page);

  await w.context.setOffline(false);
  await waitUntilSynced(w.page);
  const both = 'Met in the kitchen. The heating was off.';
  await expect(w.page.getByLabel(OBSERVATIONS)).toHaveValue(both);
  await expect(s.page.getByLabel(OBSERVATIONS)).toHaveValue(both, { timeout: 30_000 });
  const after = s.page.getByRole('region', { name: 'Changed after sign-off' });
  await expect(after).toContainText('my observations');
  await expect(after.locator('blockquote').first()).toHaveText('Met in the kitchen.');
  await expect(after.locator('blockquote').nth(1)).toHaveText(both);
  w.noErrors();
  s.noErrors();
});
