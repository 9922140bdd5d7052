// What every web test needs: the real server on 127.0.0.1 with a practice
// made through the admin command line, and the steps of the app that each
// test repeats (sign in, open a case, start a visit), written the way a
// person would do them: by label and by role.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, existsSync, mkdirSync, rmSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { test as base, expect, chromium } from '@playwright/test';
import { chromiumArgs, phone } from './playwright.config.mjs';
import AxeBuilder from '@axe-core/playwright';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const serverBin = join(root, 'target/debug/fieldvisit-sync-server');
const webDir = join(root, 'target/web');
export const screenshotDir = join(root, 'target/screenshots');

function requireBuilt() {
  if (!existsSync(serverBin)) throw new Error(`${serverBin} is missing: run cargo build -p fieldvisit-sync-server (scripts/test does)`);
  if (!existsSync(join(webDir, 'index.html'))) throw new Error(`${webDir} is missing: run bash scripts/build-web (scripts/test does)`);
}

export function admin(data, args) {
  const out = execFileSync(serverBin, ['admin', '--data', data, '--json', ...args], { encoding: 'utf8' });
  return JSON.parse(out);
}

/** Every test's scene: `practice`, a practice with one case and its server
 * serving the built app (stopped, and its folder deleted, however the test
 * ends); `profile`, a folder for a browser profile a test launches itself
 * (deleted after); `signedIn(personId, { clock })`, a new phone signed in as
 * that person, as `{ context, page, noErrors }` (`noErrors()` fails the test
 * on anything thrown in its page; `clock`: the page's clock installed
 * first, for tests that move time). */
export const test = base.extend({
  // eslint-disable-next-line no-empty-pattern
  practice: async ({}, use) => {
    const practice = await startPractice();
    try {
      await use(practice);
    } finally {
      await practice.cleanup();
    }
  },
  signedIn: async ({ browser, practice }, use) => {
    await use(async (personId, { clock = false } = {}) => {
      const context = await browser.newContext();
      const page = await context.newPage();
      if (clock) await page.clock.install();
      const noErrors = watchForErrors(page);
      await signIn(page, practice.server.url, practice.code(personId));
      return { context, page, noErrors };
    });
  },
  // eslint-disable-next-line no-empty-pattern
  profile: async ({}, use) => {
    const profile = mkdtempSync(join(tmpdir(), 'fieldvisit-profile-'));
    try {
      await use(profile);
    } finally {
      rmSync(profile, { recursive: true, force: true });
    }
  },
});

/** A practice with one case, and the server serving the built app. */
export async function startPractice() {
  requireBuilt();
  const dir = mkdtempSync(join(tmpdir(), 'fieldvisit-web-'));
  const data = join(dir, 'server');
  const practice = {
    dir,
    data,
    caseRef: 'WEB-001',
    personName: 'Jordan Synthetic',
    server: null,
    person(name, role = 'worker', supervisor = null) {
      const args = ['add-person', '--name', name, '--role', role];
      if (supervisor) args.push('--supervisor', supervisor);
      return admin(data, args).id;
    },
    assign(personId) {
      admin(data, ['assign', '--case', this.caseId, '--person', personId]);
    },
    code(personId) {
      return admin(data, ['enrol-device', '--person', personId, '--label', 'Test phone']).code;
    },
    async start() {
      this.server = await startServer(data);
      return this.server.url;
    },
    async stop() {
      if (this.server) await this.server.stop();
      this.server = null;
    },
    async cleanup() {
      await this.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  const created = admin(data, ['add-case', '--reference', practice.caseRef, '--person-name', practice.personName]);
  practice.caseId = created.case_id;
  await practice.start();
  return practice;
}

async function startServer(data) {
  const child = spawn(serverBin, ['serve', '--data', data, '--listen', '127.0.0.1:0', '--web', webDir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise((resolveUrl, reject) => {
    child.once('exit', code => reject(new Error(`server exited (${code}) before listening`)));
    lines.on('line', line => {
      const m = line.match(/listening on (\S+)/);
      if (m) resolveUrl(m[1]);
    });
  });
  return {
    url,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise(r => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Fails the test at once on an uncaught error in the page (a Rust panic
 * in wasm shows as `RuntimeError: unreachable`). */
export function watchForErrors(page) {
  const errors = [];
  page.on('pageerror', e => errors.push(e.message));
  return () => expect(errors, 'errors thrown in the page').toEqual([]);
}

/** The PIN every test phone chooses at sign-in. */
export const PIN = '472913';

export async function signIn(page, url, code) {
  await page.goto(url);
  await expect(page.getByRole('heading', { name: 'Sign in to Fieldvisit' })).toBeVisible();
  await page.getByLabel('Enrolment code').fill(code);
  await page.getByLabel('Choose a PIN for this device').fill(PIN);
  await page.getByLabel('The same PIN again').fill(PIN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'My cases' })).toBeVisible();
}

/** Every start of an enrolled phone (a reload, a reopened tab) asks for
 * the PIN before it shows anything. */
export async function unlock(page) {
  await expect(page.getByRole('heading', { name: 'Unlock Fieldvisit' })).toBeVisible({ timeout: 30_000 });
  await page.getByLabel('Your PIN').fill(PIN);
  await page.getByRole('button', { name: 'Unlock' }).click();
  await expect(page.getByRole('heading', { name: 'Unlock Fieldvisit' })).toBeHidden({ timeout: 30_000 });
}

export async function openCase(page, personName) {
  await page.getByRole('list', { name: 'Cases' }).getByRole('button', { name: new RegExp(personName) }).click();
  await expect(page.getByRole('heading', { level: 1, name: personName })).toBeVisible();
}

export async function startVisit(page) {
  await page.getByRole('button', { name: 'Start a visit' }).click();
  await expect(page.getByRole('heading', { level: 1, name: /^Visit on/ })).toBeVisible();
}

/** Opens the newest visit of the open case. */
export async function openNewestVisit(page) {
  await page.getByRole('list', { name: 'Visits, newest first' }).getByRole('button').first().click();
  await expect(page.getByRole('heading', { level: 1, name: /^Visit on/ })).toBeVisible();
}

export const syncStatus = page => page.locator('header [role=status]');

export async function waitUntilSynced(page) {
  // Not the status on screen, which may have been asked for before the last
  // keystroke or click, nor the one under way: the one after it.
  const shown = Number(await syncStatus(page).getAttribute('data-check') ?? 0);
  await expect.poll(async () => Number(await syncStatus(page).getAttribute('data-check') ?? 0), { timeout: 30_000 })
    .toBeGreaterThan(shown + 1);
  await expect(syncStatus(page)).toHaveAttribute('data-waiting', '0', { timeout: 30_000 });
  await expect(syncStatus(page)).toContainText('Synced', { timeout: 30_000 });
}

/** axe-core's automated check: no serious or critical violations. */
export async function expectAccessible(page, screen) {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']).analyze();
  const bad = result.violations
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map(n => n.target.join(' ')).join(', ')}`);
  expect(bad, `accessibility of ${screen}`).toEqual([]);
}

export async function screenshot(page, name) {
  mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: join(screenshotDir, `${name}.png`), fullPage: true });
}

/** Waits for the service worker to control the page, so the app shell
 * is cached before a test takes the network away (it takes control only
 * once its cache is full). Polled: waiting for `controllerchange` after
 * `ready` now and then missed the event and waited for ever. */
export async function waitForOfflineShell(page) {
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 60_000, polling: 100 });
}

/** Phone-first layout: nothing wider than the screen, and every control a
 * finger can hit (44 px), at normal size and with text at 200 %. */
export async function expectPhoneLayout(page, screen) {
  for (const zoom of ['100%', '200%']) {
    await page.evaluate(z => { document.documentElement.style.fontSize = z; }, zoom);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow, `horizontal scrolling on ${screen} at ${zoom} text`).toBeLessThanOrEqual(0);
    const small = await page.evaluate(() =>
      [...document.querySelectorAll('button, input, select, textarea, a[href]')]
        .filter(el => el.offsetParent !== null && !el.classList.contains('skip'))
        .map(el => ({ el, r: el.getBoundingClientRect() }))
        // A checkbox inside its label, or a file input hidden behind its
        // label, is tapped through the label.
        .filter(({ el, r }) => r.height < 44
          && !((el.type === 'checkbox' || el.type === 'radio') && el.closest('label')?.getBoundingClientRect().height >= 44)
          && !(el.type === 'file' && el.labels?.[0]?.getBoundingClientRect().height >= 44))
        .map(({ el, r }) => `${el.tagName.toLowerCase()} "${el.textContent || el.id}" ${Math.round(r.height)} px`));
    expect(small, `tap targets under 44 px on ${screen} at ${zoom} text`).toEqual([]);
  }
  await page.evaluate(() => { document.documentElement.style.fontSize = ''; });
}

/** Every check a screen gets: axe, the phone layout, and a screenshot. */
export async function checkScreen(page, name) {
  await expectAccessible(page, name);
  await expectPhoneLayout(page, name);
  await screenshot(page, name);
}

/** A phone whose browser profile is a folder on disk: it can be killed,
 * reopened, and read byte by byte afterwards. */
export function launchProfile(profile) {
  return chromium.launchPersistentContext(profile, {
    ...phone,
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: chromiumArgs,
  });
}

/** Every file under `dir` that holds any of `needles` (as UTF-8 or UTF-16):
 * what a thief with a closed browser profile would find. */
export function filesHolding(dir, needles) {
  const found = [];
  const walk = d => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      const st = statSync(path, { throwIfNoEntry: false });
      if (!st) continue;
      if (st.isDirectory()) walk(path);
      else if (st.isFile()) {
        const bytes = readFileSync(path);
        for (const n of needles) {
          if (bytes.includes(Buffer.from(n, 'utf8')) || bytes.includes(Buffer.from(n, 'utf16le'))) {
            found.push(`${path.slice(dir.length)}: ${n.slice(0, 12)}…`);
          }
        }
      }
    }
  };
  walk(dir);
  return found;
}
