// A safeguarding concern in Chromium, phone-sized: written and raised in a
// few taps with no signal; after fifteen minutes undelivered every screen
// says to phone it in (the page's clock, not a wait); the supervisor's open
// app shows the alert as soon as the concern arrives, and the supervisor's
// acknowledgement reaches the worker.
import { expect } from '@playwright/test';
import {
  admin, test, watchForErrors, signIn, openCase, startVisit, checkScreen, waitForOfflineShell, unlock,
} from './support.mjs';

const PHONE = '0161 496 0000';

async function writeConcern(page) {
  await page.getByRole('button', { name: 'Raise a safeguarding concern' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Safeguarding concern' })).toBeVisible();
  await expect(page.getByRole('status').filter({ hasText: 'Not raised yet' })).toBeVisible();
  const raise = page.getByRole('button', { name: 'Raise this concern now' });
  await expect(raise).toBeDisabled();
  await page.getByLabel('What happened').fill('Bruises on both forearms; she said her nephew grabs her when he wants money.');
  await page.getByLabel('Who is at risk').fill('Jordan Synthetic');
  await page.getByLabel('Immediate actions taken').fill('Stayed until he left; the GP visits tomorrow.');
  await page.getByLabel('No: they do not agree').check();
  await page.getByLabel('Why a referral goes ahead without their consent').fill('Her grandchildren stay at the house and may be at risk.');
  await expect(raise).toBeEnabled();
  return raise;
}

test('a concern raised with no signal: delivery shown plainly, and after fifteen minutes every screen says to phone it in', async ({ browser, practice, signedIn }) => {
  admin(practice.data, ['safeguarding-phone', '--phone', PHONE]);
  const alex = practice.person('Alex Worker');
  practice.assign(alex);
  const { context, page, noErrors: errors } = await signedIn(alex, { clock: true });
  await openCase(page, practice.personName);
  await startVisit(page);
  await waitForOfflineShell(page);

  await context.setOffline(true);
  const raise = await writeConcern(page);
  await checkScreen(page, 'concern-writing');
  await raise.click();
  await expect(page.getByRole('status').filter({ hasText: 'Not yet delivered' })).toBeVisible();
  await expect(page.getByLabel('What happened')).not.toBeEditable();
  await checkScreen(page, 'concern-not-delivered');

  // Fourteen minutes: nothing yet. Fifteen: phone it in, on whatever
  // screen the worker is (the app locks after five idle minutes first).
  await page.clock.fastForward('14:00');
  await unlock(page);
  await expect(page.getByRole('heading', { level: 1, name: 'Safeguarding concern' })).toBeVisible();
  await expect(page.getByText('Phone it in now')).toHaveCount(0);
  await page.getByRole('button', { name: '← Case' }).click();
  await page.clock.fastForward('01:30');
  const warning = page.getByRole('alert').filter({ hasText: 'Phone it in now' });
  await expect(warning).toBeVisible({ timeout: 15_000 });
  await expect(warning.getByRole('link', { name: `Call your practice: ${PHONE}` })).toHaveAttribute('href', `tel:${PHONE}`);
  await checkScreen(page, 'concern-phone-it-in');

  // Signal again: it goes, the warning goes, and the time is shown.
  await context.setOffline(false);
  await warning.getByRole('link', { name: 'Open the concern' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Delivered to the server at' })).toBeVisible({ timeout: 30_000 });
  await expect(page.getByText('Phone it in now')).toHaveCount(0, { timeout: 15_000 });
  expect(admin(practice.data, ['audit', '--action', 'concern_raised'])).toHaveLength(1);
  errors();
  await context.close();
});

test("the supervisor's open app shows the alert as the concern arrives; the acknowledgement reaches the worker", async ({ browser, practice, signedIn }) => {
  const sam = practice.person('Sam Supervisor', 'supervisor');
  const alex = practice.person('Alex Worker', 'worker', sam);
  practice.assign(alex);

  const { context: supervisorContext, page: supervisor, noErrors: supervisorErrors } = await signedIn(sam);
  const alerts = supervisor.getByRole('alert', { name: 'Safeguarding alerts' });
  await expect(alerts).toHaveCount(0);

  const { context: workerContext, page: worker, noErrors: workerErrors } = await signedIn(alex);
  await openCase(worker, practice.personName);
  await startVisit(worker);
  const raise = await writeConcern(worker);
  await raise.click();
  await expect(worker.getByRole('status').filter({ hasText: 'Delivered to the server at' })).toBeVisible({ timeout: 30_000 });
  // The alert is on the supervisor's screen within two seconds of the
  // worker's phone seeing the concern delivered.
  await expect(alerts).toBeVisible({ timeout: 2_000 });
  await expect(alerts).toContainText('WEB-001');
  await expect(alerts).toContainText('Raised by Alex Worker');
  await checkScreen(supervisor, 'concern-supervisor-alert');

  await alerts.getByRole('link', { name: 'Open the concern' }).click();
  await expect(supervisor.getByLabel('What happened')).toHaveValue(/Bruises on both forearms/, { timeout: 30_000 });
  await expect(supervisor.getByLabel('What happened')).not.toBeEditable();
  await supervisor.getByRole('button', { name: 'Acknowledge this concern' }).click();
  await expect(alerts).toHaveCount(0, { timeout: 10_000 });
  await expect(worker.getByRole('status').filter({ hasText: 'Acknowledged by Sam Supervisor' })).toBeVisible({ timeout: 30_000 });
  await checkScreen(worker, 'concern-acknowledged');
  expect(admin(practice.data, ['audit', '--action', 'concern_acknowledged'])).toHaveLength(1);

  // The practice's case record has it: in the chronology, and whole.
  await supervisor.evaluate(id => { location.hash = `#/cases/${id}/record`; }, practice.caseId);
  const chronology = supervisor.getByRole('list', { name: 'Chronology, newest first' });
  await expect(chronology).toContainText('Safeguarding concern raised', { timeout: 30_000 });
  await expect(chronology).toContainText('Safeguarding concern acknowledged');
  const record = supervisor.getByRole('region', { name: 'Safeguarding concern' });
  await expect(record).toContainText('Acknowledged by Sam Supervisor');
  await expect(record).toContainText('Bruises on both forearms');
  await expect(record).toContainText('Her grandchildren stay at the house');
  supervisorErrors();
  workerErrors();
  await supervisorContext.close();
  await workerContext.close();
});
