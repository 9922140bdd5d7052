// A lost phone, read as a thief would: a worker uses every screen that
// shows case data (a visit, a safeguarding concern, a capacity assessment,
// the case record, a search), the browser is closed, and its whole profile
// on disk is searched for what the worker saw. The app's own store is
// sealed; nothing of a case may be anywhere else: the HTTP cache, the
// service worker's caches, session restore, IndexedDB, localStorage.
import { expect } from '@playwright/test';
import {
  test, watchForErrors, signIn, openCase, startVisit, openNewestVisit, waitUntilSynced, launchProfile,
  filesHolding,
} from './support.mjs';

const VISIT = 'The kettle was on when I arrived';
const CONCERN = 'Bruises on both forearms';
const DECISION = 'Whether to move into residential care';

test('a closed phone holds nothing of a case outside its sealed store, after every screen', async ({ practice, profile }) => {
  const alex = practice.person('Alex Worker');
  practice.assign(alex);
  const context = await launchProfile(profile);
  const page = context.pages()[0] ?? await context.newPage();
  const errors = watchForErrors(page);
  let token;
  page.on('response', async r => {
    if (r.url().endsWith('/api/enrol') && r.ok()) token = (await r.json()).token;
  });
  await signIn(page, practice.server.url, practice.code(alex));
  await openCase(page, practice.personName);

  // A visit.
  await startVisit(page);
  const box = page.getByLabel('What I saw and heard', { exact: true });
  await box.click();
  await box.pressSequentially(`${VISIT}.`, { delay: 5 });
  await waitUntilSynced(page);

  // A safeguarding concern, raised and delivered.
  await page.getByRole('button', { name: 'Raise a safeguarding concern' }).click();
  await page.getByLabel('What happened').fill(`${CONCERN}; she said her nephew grabs her.`);
  await page.getByLabel('Who is at risk').fill('Her grandchildren');
  await page.getByLabel('Immediate actions taken').fill('Stayed until he left.');
  await page.getByLabel('No: they do not agree').check();
  await page.getByLabel('Why a referral goes ahead without their consent').fill('Children stay at the house.');
  await page.getByRole('button', { name: 'Raise this concern now' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Delivered to the server at' })).toBeVisible({ timeout: 30_000 });
  await page.getByRole('button', { name: '← Case' }).click();

  // A capacity assessment, from the visit.
  await openNewestVisit(page);
  await expect(page.getByRole('button', { name: 'Start a capacity assessment' })).toBeVisible();
  await page.getByRole('button', { name: 'Start a capacity assessment' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Mental capacity assessment' })).toBeVisible();
  await page.getByLabel('The specific decision').fill(DECISION);
  await waitUntilSynced(page);

  // The case record, and a search.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Cases' }).click();
  await openCase(page, practice.personName);
  await page.getByRole('link', { name: /Case record/ }).click();
  await expect(page.getByRole('heading', { level: 2, name: 'Chronology' })).toBeVisible();
  await expect(page.getByText(VISIT).first()).toBeVisible();
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Search' }).click();
  await page.getByLabel('Words to find').fill('kettle');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await expect(page.getByRole('list', { name: 'Results' }).locator('li')).toHaveCount(1);
  errors();

  // Closed, as a phone's browser is when it is put down.
  await context.close();
  expect(token).toBeTruthy();
  const found = filesHolding(profile, [
    VISIT, CONCERN, DECISION, practice.personName, practice.caseRef, token,
  ]);
  expect(found).toEqual([]);
});
