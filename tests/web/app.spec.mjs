// The phone app, end to end: the real server process, the built web app,
// Debian's Chromium as a 390 x 844 touch phone.
import { expect } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import {
  test, watchForErrors, signIn, openCase, startVisit, openNewestVisit,
  syncStatus, waitUntilSynced, checkScreen, screenshot, waitForOfflineShell, launchProfile, unlock,
} from './support.mjs';

const field = {
  ownWords: 'What the person said or expressed, verbatim',
  observations: 'What I saw and heard',
  analysis: 'What I think it means',
  action: 'What needs doing',
  actionOwner: 'Who will do it',
  expressed: 'What they expressed',
  how: 'How they expressed it',
  reading: 'My reading of it',
};

/** Types at the end of a box, key by key, as a person would. */
async function typeAtEnd(page, label, text) {
  const box = page.getByLabel(label, { exact: true });
  await box.click();
  await box.press('Control+End');
  await box.pressSequentially(text, { delay: 15 });
}

test('a worker records a visit, offline through a reload, and a colleague sees every word', async ({ browser, practice, signedIn }) => {
  const alex = practice.person('Alex Worker');
  const bea = practice.person('Bea Colleague');
  practice.assign(alex);
  practice.assign(bea);

  const ctxA = await browser.newContext();
  const a = await ctxA.newPage();
  const noErrorsA = watchForErrors(a);

  await a.goto(practice.server.url);
  await expect(a.getByRole('heading', { name: 'Sign in to Fieldvisit' })).toBeVisible();
  await checkScreen(a, '1-sign-in');

  await signIn(a, practice.server.url, practice.code(alex));
  await expect(a.getByRole('button', { name: new RegExp(practice.personName) })).toBeVisible();
  await checkScreen(a, '2-my-cases');

  await openCase(a, practice.personName);
  await checkScreen(a, '3-case');

  await startVisit(a);
  await typeAtEnd(a, field.ownWords, 'I want to stay in my own home.');
  const modes = a.getByRole('group', { name: 'How they communicated' });
  for (const mode of ['Speech', 'Music']) {
    await modes.getByRole('button', { name: mode }).click();
    await expect(modes.getByRole('button', { name: mode })).toHaveAttribute('aria-pressed', 'true');
  }
  await typeAtEnd(a, field.observations, 'Kitchen tidy; fridge stocked.');
  await typeAtEnd(a, field.analysis, 'Managing well with support.');
  await a.getByRole('button', { name: 'Add an action' }).click();
  await typeAtEnd(a, field.action, 'Ask the GP about a medication review.');
  await typeAtEnd(a, field.actionOwner, 'Alex');
  await a.getByRole('group', { name: 'Add an observation through' }).getByRole('button', { name: '+ Music' }).click();
  const obs = a.getByRole('group', { name: 'Creative observation 1' });
  await expect(obs.getByRole('button', { name: 'Music' })).toHaveAttribute('aria-pressed', 'true');
  await typeAtEnd(a, field.expressed, 'Hummed a hymn when church was mentioned.');
  await typeAtEnd(a, field.how, 'Softly, swaying, eyes closed.');
  await typeAtEnd(a, field.reading, 'Faith community matters to them.');
  await waitUntilSynced(a);
  await checkScreen(a, '4-visit');

  // No network: the app reloads from its offline shell and its own store.
  await waitForOfflineShell(a);
  await ctxA.setOffline(true);
  await expect(syncStatus(a)).toContainText('Offline');
  await a.reload();
  await unlock(a);
  await expect(a.getByRole('heading', { level: 1, name: /^Visit on/ })).toBeVisible();
  await expect(a.getByLabel(field.observations)).toHaveValue('Kitchen tidy; fridge stocked.');
  await typeAtEnd(a, field.observations, ' Back door left unlocked.');
  await typeAtEnd(a, field.analysis, ' Needs a follow-up visit.');
  await expect(syncStatus(a)).toContainText('Offline');
  await expect(syncStatus(a)).toHaveAttribute('data-waiting', /^[1-9]/);
  await expect(syncStatus(a)).toContainText('waiting');
  await screenshot(a, '5-visit-offline');

  await ctxA.setOffline(false);
  await waitUntilSynced(a);

  // The colleague, on another phone, sees every word.
  const { context: ctxB, page: b, noErrors: noErrorsB } = await signedIn(bea);
  await openCase(b, practice.personName);
  await openNewestVisit(b);
  await expect(b.getByLabel(field.ownWords)).toHaveValue('I want to stay in my own home.');
  await expect(b.getByLabel(field.observations)).toHaveValue('Kitchen tidy; fridge stocked. Back door left unlocked.');
  await expect(b.getByLabel(field.analysis)).toHaveValue('Managing well with support. Needs a follow-up visit.');
  await expect(b.getByLabel(field.action, { exact: true })).toHaveValue('Ask the GP about a medication review.');
  await expect(b.getByLabel(field.actionOwner)).toHaveValue('Alex');
  await expect(b.getByLabel(field.expressed)).toHaveValue('Hummed a hymn when church was mentioned.');
  await expect(b.getByLabel(field.how)).toHaveValue('Softly, swaying, eyes closed.');
  await expect(b.getByLabel(field.reading)).toHaveValue('Faith community matters to them.');
  const bModes = b.getByRole('group', { name: 'How they communicated' });
  for (const mode of ['Speech', 'Music']) {
    await expect(bModes.getByRole('button', { name: mode })).toHaveAttribute('aria-pressed', 'true');
  }
  await expect(bModes.getByRole('button', { name: 'Sign' })).toHaveAttribute('aria-pressed', 'false');
  await screenshot(b, '6-visit-colleague');

  noErrorsA();
  noErrorsB();
  await ctxA.close();
  await ctxB.close();
});

test('two phones edit the same visit offline; both end with everything each typed', async ({ browser, practice, signedIn }) => {
  const alex = practice.person('Alex Worker');
  const bea = practice.person('Bea Colleague');
  practice.assign(alex);
  practice.assign(bea);

  const { context: ctxA, page: a, noErrors: noErrorsA } = await signedIn(alex);
  await openCase(a, practice.personName);
  await startVisit(a);
  await typeAtEnd(a, field.observations, 'Shared start.');
  await waitUntilSynced(a);

  const { context: ctxB, page: b, noErrors: noErrorsB } = await signedIn(bea);
  await openCase(b, practice.personName);
  await openNewestVisit(b);
  await expect(b.getByLabel(field.observations)).toHaveValue('Shared start.');

  await ctxA.setOffline(true);
  await ctxB.setOffline(true);
  await expect(syncStatus(a)).toContainText('Offline');
  await expect(syncStatus(b)).toContainText('Offline');
  await typeAtEnd(a, field.observations, ' Alpha saw the garden.');
  await typeAtEnd(b, field.observations, ' Bravo heard the radio.');
  await typeAtEnd(b, field.ownWords, 'Bravo wrote their words.');
  await expect(syncStatus(a)).toHaveAttribute('data-waiting', /^[1-9]/);
  await expect(syncStatus(b)).toHaveAttribute('data-waiting', /^[1-9]/);

  await ctxA.setOffline(false);
  await ctxB.setOffline(false);
  await waitUntilSynced(a);
  await waitUntilSynced(b);
  for (const page of [a, b]) {
    const box = page.getByLabel(field.observations);
    await expect(box).toHaveValue(/Alpha saw the garden\./);
    await expect(box).toHaveValue(/Bravo heard the radio\./);
    await expect(box).toHaveValue(/^Shared start\./);
    await expect(page.getByLabel(field.ownWords)).toHaveValue('Bravo wrote their words.');
  }
  const finalA = await a.getByLabel(field.observations).inputValue();
  await expect(b.getByLabel(field.observations)).toHaveValue(finalA);
  await screenshot(a, '7-merged-a');
  await screenshot(b, '7-merged-b');
  noErrorsA();
  noErrorsB();
  await ctxA.close();
  await ctxB.close();
});

test('text typed one second before the browser is killed is there when it is reopened', async ({ practice, profile }) => {
  const launch = () => launchProfile(profile);
  const alex = practice.person('Alex Worker');
  practice.assign(alex);

  let context = await launch();
  let page = context.pages()[0] ?? await context.newPage();
  await signIn(page, practice.server.url, practice.code(alex));
  await openCase(page, practice.personName);
  await startVisit(page);
  await waitForOfflineShell(page);
  await waitUntilSynced(page);
  const visitUrl = page.url();

  // The server goes away, so whatever comes back can only have come from
  // this phone's own store.
  await practice.stop();
  await typeAtEnd(page, field.observations, 'Typed a second before the crash.');
  await page.waitForTimeout(1000);
  execFileSync('pkill', ['-KILL', '-f', `user-data-dir=${profile}`]);
  await context.close().catch(() => {});

  context = await launch();
  page = context.pages()[0] ?? await context.newPage();
  const noErrors = watchForErrors(page);
  await page.goto(visitUrl);
  await unlock(page);
  await expect(page.getByRole('heading', { level: 1, name: /^Visit on/ })).toBeVisible();
  await expect(page.getByLabel(field.observations)).toHaveValue('Typed a second before the crash.');
  await expect(syncStatus(page)).toContainText('Offline');
  await screenshot(page, '8-after-browser-killed');
  noErrors();
  await context.close();
});

test('every keystroke survives a reload at once, ten times, and a closed tab', async ({ browser, practice }) => {
  const alex = practice.person('Alex Worker');
  practice.assign(alex);
  const ctx = await browser.newContext();
  let page = await ctx.newPage();
  const noErrors = [watchForErrors(page)];
  await signIn(page, practice.server.url, practice.code(alex));
  await openCase(page, practice.personName);
  await startVisit(page);
  await waitForOfflineShell(page);
  await waitUntilSynced(page);
  const visitUrl = page.url();
  const heading = p => p.getByRole('heading', { level: 1, name: /^Visit on/ });

  // Offline, so every character can only come from this phone's store.
  await ctx.setOffline(true);
  let expected = '';
  for (let round = 1; round <= 10; round++) {
    const words = `Round ${round} typed then reloaded. `;
    await typeAtEnd(page, field.observations, words);
    expected += words;
    await page.reload(); // at once: no pause after the last key
    await unlock(page);
    await expect(heading(page)).toBeVisible();
    await expect(page.getByLabel(field.observations)).toHaveValue(expected);
  }

  // Typing, then the tab is closed at once and opened again.
  await typeAtEnd(page, field.analysis, 'Written just before the tab closed.');
  await page.close();
  page = await ctx.newPage();
  noErrors.push(watchForErrors(page));
  await page.goto(visitUrl);
  await unlock(page);
  await expect(heading(page)).toBeVisible();
  await expect(page.getByLabel(field.analysis)).toHaveValue('Written just before the tab closed.');
  await expect(page.getByLabel(field.observations)).toHaveValue(expected);

  // Back online, all of it reaches the server: another of Alex's
  // devices, which has only what the server gives it, reads every word.
  await ctx.setOffline(false);
  await waitUntilSynced(page);
  const otherCtx = await browser.newContext();
  const other = await otherCtx.newPage();
  noErrors.push(watchForErrors(other));
  await signIn(other, practice.server.url, practice.code(alex));
  await openCase(other, practice.personName);
  await openNewestVisit(other);
  await expect(other.getByLabel(field.observations)).toHaveValue(expected);
  await expect(other.getByLabel(field.analysis)).toHaveValue('Written just before the tab closed.');
  noErrors.forEach(check => check());
  await otherCtx.close();
  await ctx.close();
});
