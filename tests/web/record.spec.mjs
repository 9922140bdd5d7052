// The practice's case record end to end: a worker types on a phone with no
// signal, a colleague adds to the same paragraph, the worker submits the
// visit; a practice reviewer at an office desk (1280 x 800) and on a phone
// reads the record: the chronology in date order with links to the source,
// who wrote which words (both people, with both clocks), the record as it
// stood between the two edits, search that never reaches another case; the
// practice admin filters the audit log for who opened the record.
import { expect } from '@playwright/test';
import {
  admin, test, watchForErrors, signIn, openCase, startVisit, openNewestVisit,
  syncStatus, waitUntilSynced, checkScreen, waitForOfflineShell, screenshotDir,
} from './support.mjs';
import { join } from 'node:path';

const OBSERVATIONS = 'What I saw and heard';
const FIRST = 'She made marmalade with her daughter.';
const SECOND = ' Blake was there too';
const desk = { viewport: { width: 1280, height: 800 }, isMobile: false, hasTouch: false, deviceScaleFactor: 1 };

async function device(browser, practice, personId, size = {}) {
  const context = await browser.newContext(size);
  const page = await context.newPage();
  const noErrors = watchForErrors(page);
  await signIn(page, practice.server.url, practice.code(personId));
  return { context, page, noErrors };
}

async function typeAtEnd(page, label, text) {
  const box = page.getByLabel(label, { exact: true });
  await box.click();
  await box.press('Control+End');
  await box.pressSequentially(text, { delay: 15 });
}

/** The reviewer opens the case: straight to the practice's record. */
async function openRecord(page, practice) {
  await page.getByRole('list', { name: 'Cases' }).getByRole('button', { name: new RegExp(practice.personName) }).click();
  await expect(page.getByRole('heading', { level: 1, name: practice.personName })).toBeVisible();
  await expect(page.getByRole('list', { name: 'Chronology, newest first' })).toBeVisible();
}

/** An ISO time as the datetime-local input wants it, in the page's zone. */
async function localInput(page, iso) {
  return page.evaluate(t => {
    const d = new Date(t);
    const p = n => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  }, iso);
}

async function search(page, words) {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Search' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Search' })).toBeVisible();
  await page.getByLabel('Words to find').fill(words);
  await page.getByRole('button', { name: 'Search', exact: true }).click();
}

test('the case record: chronology, authorship, as at, search and audit, at a desk and on a phone', async ({ browser, practice }) => {
  const sam = practice.person('Sam Supervisor', 'supervisor');
  const alex = practice.person('Alex Worker', 'worker', sam);
  const blake = practice.person('Blake Worker', 'worker', sam);
  const rae = practice.person('Rae Reviewer', 'reviewer');
  const robin = practice.person('Robin Worker', 'worker');
  const ada = practice.person('Ada Admin', 'admin');
  for (const p of [alex, blake, rae]) practice.assign(p);
  const other = admin(practice.data, ['add-case', '--reference', 'WEB-002', '--person-name', 'Sky Synthetic']);
  admin(practice.data, ['assign', '--case', other.case_id, '--person', robin]);

  // Robin, on another case, writes the same word there.
  const r = await device(browser, practice, robin);
  await openCase(r.page, 'Sky Synthetic');
  await startVisit(r.page);
  await typeAtEnd(r.page, OBSERVATIONS, 'Robin saw marmalade.');
  await waitUntilSynced(r.page);

  // Alex writes in someone's home with no signal, marks a significant
  // event, and syncs on coming back.
  const a = await device(browser, practice, alex);
  await openCase(a.page, practice.personName);
  await startVisit(a.page);
  await waitUntilSynced(a.page);
  await waitForOfflineShell(a.page);
  await a.context.setOffline(true);
  await expect(syncStatus(a.page)).toContainText('Offline');
  await typeAtEnd(a.page, OBSERVATIONS, FIRST);
  await a.page.getByRole('button', { name: 'Mark a significant event' }).click();
  await typeAtEnd(a.page, 'What happened', 'A fall on the stairs');
  await a.context.setOffline(false);
  await waitUntilSynced(a.page);
  // The time input takes whole seconds: a second on, so that the second
  // it shows is after Alex's last change arrived, and still before
  // Blake's first (more than two seconds later).
  await a.page.waitForTimeout(1000);
  const between = new Date().toISOString();
  await a.page.waitForTimeout(2100);

  // Blake, on the same case, adds to the same paragraph.
  const b = await device(browser, practice, blake);
  await openCase(b.page, practice.personName);
  await openNewestVisit(b.page);
  await expect(b.page.getByLabel(OBSERVATIONS, { exact: true })).toHaveValue(FIRST);
  await typeAtEnd(b.page, OBSERVATIONS, SECOND);
  await waitUntilSynced(b.page);
  await expect(a.page.getByLabel(OBSERVATIONS, { exact: true })).toHaveValue(FIRST + SECOND, { timeout: 30_000 });
  await a.page.getByRole('button', { name: 'Submit for review' }).click();
  await waitUntilSynced(a.page);

  // The reviewer at a desk: the record, the chronology in date order.
  const d = await device(browser, practice, rae, desk);
  await openRecord(d.page, practice);
  const chronology = d.page.getByRole('list', { name: 'Chronology, newest first' });
  await expect(chronology.locator('li')).toHaveCount(3, { timeout: 30_000 });
  const at = await chronology.locator('li').evaluateAll(items => items.map(i => i.dataset.at));
  expect([...at].sort().reverse()).toEqual(at);
  await expect(chronology).toContainText('Visit');
  await expect(chronology).toContainText('Submitted for review');
  await expect(chronology).toContainText('Significant event');
  await expect(chronology).toContainText('A fall on the stairs');
  await expect(chronology).toContainText('Alex Worker');
  // People by name everywhere, never by id.
  expect(await d.page.locator('main').innerText()).not.toMatch(/(worker|reviewer|supervisor)-[0-9a-f]{6,}/);
  await checkScreen(d.page, 'case-record-desk');
  await chronology.screenshot({ path: join(screenshotDir, 'chronology-desk.png') });

  // Each chronology item links to its source.
  await chronology.getByRole('link', { name: 'Significant event' }).click();
  const event = d.page.locator('.focused');
  await expect(event).toContainText('A fall on the stairs');
  await chronology.getByRole('link', { name: 'Submitted for review' }).click();
  await expect(d.page.locator('.focused')).toContainText('Submitted by Alex Worker');

  // Who wrote what: two people in one paragraph, with both clocks.
  const visit = d.page.locator('section.visit').first();
  const obs = visit.getByRole('group', { name: 'Observations' });
  await expect(obs.locator('.text')).toHaveText(FIRST + SECOND);
  await obs.getByRole('button', { name: 'Who wrote this?' }).click();
  const who = obs.getByRole('region', { name: 'Who wrote Observations' });
  const authors = who.locator('li.author');
  await expect(authors).toHaveCount(2);
  await expect(authors.nth(0)).toContainText(`“${FIRST}” Alex Worker`);
  await expect(authors.nth(1)).toContainText(`“${SECOND}” Blake Worker`);
  for (const i of [0, 1]) {
    await expect(authors.nth(i)).toContainText("(the device's clock)");
    await expect(authors.nth(i)).toContainText('received by the server');
  }
  await checkScreen(d.page, 'authorship-desk');

  // As at a time between the two edits: exactly the first, with the
  // change since marked.
  await d.page.getByLabel('Show the record as it stood at').fill(await localInput(d.page, between));
  await d.page.getByRole('button', { name: 'Show', exact: true }).click();
  await expect(d.page.locator('.as-at-note')).toBeVisible();
  const then = d.page.locator('section.visit').first().getByRole('group', { name: 'Observations' });
  await expect(then.locator('.text')).toHaveText(FIRST);
  await expect(then.locator('.added-since')).toHaveCount(1);
  await expect(then.locator('.since-note')).toContainText(SECOND.trim());
  await expect(d.page.getByRole('list', { name: 'Chronology, newest first' })).not.toContainText('Submitted for review');
  await checkScreen(d.page, 'as-at-desk');

  // Search finds the word typed offline, from this case only.
  await search(d.page, 'marmalade');
  const hits = d.page.getByRole('list', { name: 'Results' }).locator('li');
  await expect(hits).toHaveCount(1);
  await expect(hits.first()).toContainText('WEB-001');
  await expect(hits.first().locator('mark')).toHaveText('marmalade');
  await checkScreen(d.page, 'search-desk');
  await hits.first().getByRole('link').click();
  await expect(d.page.locator('.focused')).toContainText('marmalade');

  // Robin, on the other case, finds only their own.
  await search(r.page, 'marmalade');
  const robinHits = r.page.getByRole('list', { name: 'Results' }).locator('li');
  await expect(robinHits).toHaveCount(1);
  await expect(robinHits.first()).toContainText('WEB-002');
  await checkScreen(r.page, 'search-phone');

  // The reviewer on a phone: the same record, one column.
  const p = await device(browser, practice, rae);
  await openRecord(p.page, practice);
  await checkScreen(p.page, 'case-record-phone');
  await p.page.getByRole('list', { name: 'Chronology, newest first' })
    .screenshot({ path: join(screenshotDir, 'chronology-phone.png') });
  await p.page.locator('section.visit').first().getByRole('group', { name: 'Observations' })
    .getByRole('button', { name: 'Who wrote this?' }).click();
  await expect(p.page.locator('li.author')).toHaveCount(2);
  await checkScreen(p.page, 'authorship-phone');
  await p.page.getByLabel('Show the record as it stood at').fill(await localInput(p.page, between));
  await p.page.getByRole('button', { name: 'Show', exact: true }).click();
  await expect(p.page.locator('section.visit').first().getByRole('group', { name: 'Observations' }).locator('.text')).toHaveText(FIRST);
  await checkScreen(p.page, 'as-at-phone');

  // The admin finds who opened the record.
  for (const [size, name] of [[desk, 'audit-desk'], [{}, 'audit-phone']]) {
    const ad = await device(browser, practice, ada, size);
    await ad.page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit log' }).click();
    await expect(ad.page.getByRole('heading', { level: 1, name: 'Audit log' })).toBeVisible();
    await expect(ad.page.locator('tr.entry').first()).toBeVisible();
    await ad.page.getByLabel('What').selectOption('case_opened');
    await ad.page.getByLabel('Who').selectOption({ label: 'Rae Reviewer' });
    await ad.page.getByRole('button', { name: 'Show', exact: true }).click();
    // The old rows stay on screen while the filtered ones load: wait
    // until every row shown is one the filter lets through.
    const rows = ad.page.locator('tr.entry');
    await expect(rows.filter({ hasNotText: 'Case record opened' })).toHaveCount(0);
    await expect(rows.filter({ hasNotText: 'Rae Reviewer' })).toHaveCount(0);
    await expect.poll(() => rows.count()).toBeGreaterThanOrEqual(3);
    const texts = await rows.allInnerTexts();
    expect(texts.length).toBeGreaterThanOrEqual(3);
    for (const t of texts) {
      expect(t).toContain('Rae Reviewer');
      expect(t).toContain('Case record opened');
      expect(t).toContain('WEB-001');
    }
    await checkScreen(ad.page, name);
    ad.noErrors();
    await ad.context.close();
  }

  for (const x of [a, b, d, r, p]) x.noErrors();
});
