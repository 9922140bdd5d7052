// A mental capacity assessment in Chromium, phone-sized: started from a
// visit, made in the order the Act and A Local Authority v JB set (the
// impairment question only once a part is not met), completed with the
// outcome the findings give; and two assessors' offline findings that
// differ shown side by side, blocking completion until one is chosen.
import { expect } from '@playwright/test';
import {
  test, watchForErrors, signIn, openCase, startVisit, checkScreen, waitUntilSynced, waitForOfflineShell,
} from './support.mjs';

const part = (page, question) => page.getByRole('group', { name: question });
const UNDERSTAND = 'Can the person understand the information relevant to the decision?';
const RETAIN = 'Can the person retain the information?';
const WEIGH = 'Can the person use or weigh the information?';
const COMMUNICATE = 'Can the person communicate their decision?';
const IMPAIRMENT = 'Is the inability to decide because of an impairment of, or a disturbance in the functioning of, the mind or brain?';

async function startAssessment(page) {
  const own = page.getByLabel('What the person said or expressed, verbatim');
  await own.click();
  await own.pressSequentially('I want to stay here with my cat. The stairs are fine.', { delay: 5 });
  await page.getByRole('button', { name: 'Start a capacity assessment' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Mental capacity assessment' })).toBeVisible();
  await page.getByLabel('The specific decision').fill('Whether to move into residential care');
  await page.getByRole('button', { name: 'Use the time now' }).click();
  await page.getByLabel('The information the person was given').fill('The care home, the costs, the risks of staying: falls on the stairs.');
  await page.getByLabel('Practicable steps taken to help them decide').fill('Photos of the home; a visit with her daughter; music she chose.');
}

test('an assessment made in order: the impairment question only after a part is not met, the outcome computed', async ({ browser, practice, signedIn }) => {
  const alex = practice.person('Alex Assessor');
  practice.assign(alex);
  const { context, page, noErrors: errors } = await signedIn(alex);
  await openCase(page, practice.personName);
  await startVisit(page);
  await startAssessment(page);
  await page.getByRole('button', { name: 'Use all of their words as evidence' }).click();
  await expect(page.getByRole('heading', { name: 'Impairment of the mind or brain' })).toHaveCount(0);

  await part(page, UNDERSTAND).getByLabel('Met', { exact: true }).check();
  await part(page, RETAIN).getByLabel('Met', { exact: true }).check();
  await part(page, COMMUNICATE).getByLabel('Met', { exact: true }).check();
  await part(page, WEIGH).getByLabel('Not met').check();
  await page.getByLabel('Evidence for use or weigh').fill('She could not hold the risk of falls against staying with her cat.');
  await expect(page.getByRole('heading', { name: 'Impairment of the mind or brain' })).toBeVisible();
  await expect(page.getByText('Computed from the findings: not yet decided.')).toBeVisible();
  await part(page, IMPAIRMENT).getByLabel('Yes').check();
  await page.getByLabel('Evidence of an impairment or disturbance, and of how it causes the inability').fill('Diagnosed vascular dementia; the confusion about the stairs follows it.');
  await expect(page.getByText('Computed from the findings: lacks capacity for this decision.')).toBeVisible();
  await page.getByLabel('Best interests: who will decide, and what happens next').fill('Best-interests meeting with her daughter and the GP on Monday.');
  await checkScreen(page, 'capacity-assessment');

  await page.getByRole('button', { name: 'Complete the assessment' }).click();
  await expect(page.getByText(/Complete: the person lacks capacity/)).toBeVisible();
  await checkScreen(page, 'capacity-complete');
  await waitUntilSynced(page);
  errors();
  await context.close();
});

test("two assessors offline: differing findings are both shown and block completion until one is chosen", async ({ browser, practice, signedIn }) => {
  const alex = practice.person('Alex Assessor');
  const sam = practice.person('Sam Assessor');
  practice.assign(alex);
  practice.assign(sam);
  const { context: alexContext, page: alexPage, noErrors: alexErrors } = await signedIn(alex);
  await openCase(alexPage, practice.personName);
  await startVisit(alexPage);
  await startAssessment(alexPage);
  await waitUntilSynced(alexPage);
  const assessment = alexPage.url();

  const { context: samContext, page: samPage, noErrors: samErrors } = await signedIn(sam);
  await openCase(samPage, practice.personName);
  const listed = samPage.getByRole('list', { name: 'Capacity assessments, newest first' }).getByRole('button');
  await expect(listed).toHaveCount(1, { timeout: 30_000 });
  await listed.click();
  await expect(samPage.getByLabel('The specific decision')).toHaveValue('Whether to move into residential care', { timeout: 30_000 });
  expect(samPage.url()).toBe(assessment.replace(/^https?:\/\/[^/]+/, samPage.url().match(/^https?:\/\/[^/]+/)[0]));

  // Both out of signal; each records use-or-weigh their own way.
  for (const page of [alexPage, samPage]) await waitForOfflineShell(page);
  await alexContext.setOffline(true);
  await samContext.setOffline(true);
  await part(alexPage, WEIGH).getByLabel('Not met').check();
  await part(samPage, WEIGH).getByLabel('Met', { exact: true }).check();
  await samPage.getByLabel('Evidence for use or weigh').fill('She weighed the stairs against the cat, in her own way.');
  await alexContext.setOffline(false);
  await samContext.setOffline(false);

  for (const page of [alexPage, samPage]) {
    const weigh = part(page, WEIGH);
    await expect(weigh).toContainText('Findings recorded apart differ', { timeout: 30_000 });
    await expect(weigh).toContainText('Alex Assessor: not met (');
    await expect(weigh).toContainText('Sam Assessor: met (');
    await expect(page.getByLabel('Evidence for use or weigh')).toHaveValue(/in her own way/);
    await expect(page.getByRole('button', { name: 'Complete the assessment' })).toBeDisabled();
  }
  await checkScreen(samPage, 'capacity-conflict');

  // Alex chooses the finding that stands; the conflict goes on both.
  await part(alexPage, WEIGH).getByLabel('Met', { exact: true }).check();
  for (const page of [alexPage, samPage]) {
    await expect(part(page, WEIGH)).not.toContainText('Findings recorded apart differ', { timeout: 30_000 });
    await expect(part(page, WEIGH).getByLabel('Met', { exact: true })).toBeChecked();
  }
  alexErrors();
  samErrors();
  await alexContext.close();
  await samContext.close();
});
