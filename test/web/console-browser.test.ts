// The web console in headless Chromium (Debian's /usr/bin/chromium driven by playwright-core)
// against a real `lfsd serve`, with the real git-lfs client (issue 16, "What must be shown"):
// sign in, create a token and push with it, see the repository and its object count, take a lock
// with the client and break it as an admin in the browser, sign out and find that the back button
// shows nothing private; a non-admin gets 403 for the admin pages; a form post without its CSRF
// token is refused. Screenshots of each page go to test-output/ (not committed).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { createGitSandbox, type GitSandbox } from '../helpers/git.js';
import { lfsdAdmin, startLfsd, type LfsdServer } from '../helpers/lfsd-process.js';

const SHOTS = join(process.cwd(), 'test-output', 'console');
const ALICE = { name: 'alice', password: 'alice password 1' };
const ROOT = { name: 'root', password: 'root password 22' };

describe('web console in a browser', { timeout: 300_000 }, () => {
  let server: LfsdServer;
  let browser: Browser;
  let admin: GitSandbox;
  let sandbox: GitSandbox | undefined;
  let dataDir: string;
  const contexts: BrowserContext[] = [];

  async function newPage(): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1100, height: 640 } });
    contexts.push(context);
    return context.newPage();
  }

  async function signIn(page: Page, who: { name: string; password: string }): Promise<void> {
    await page.goto(`${server.url}/`);
    await page.getByLabel('User name').fill(who.name);
    await page.getByLabel('Password').fill(who.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${server.url}/-/repos`);
  }

  const shot = (page: Page, name: string) =>
    page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    admin = await createGitSandbox();
    dataDir = join(admin.root, 'lfsd-data');
    await lfsdAdmin(['user', 'add', ALICE.name, '--password-stdin', '--data-dir', dataDir], {
      input: `${ALICE.password}\n`,
    });
    await lfsdAdmin(['user', 'add', ROOT.name, '--admin', '--password-stdin', '--data-dir', dataDir], {
      input: `${ROOT.password}\n`,
    });
    server = await startLfsd(['--data-dir', dataDir]);
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-quic',
        '--no-first-run',
      ],
    });
  });

  after(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await browser?.close();
    await server?.stop();
    await sandbox?.cleanup();
    await admin?.cleanup();
  });

  void it('signs in, makes a token, pushes with it, sees the objects, breaks a lock as admin, signs out', async () => {
    const page = await newPage();
    await page.goto(`${server.url}/`);
    await page.waitForURL(`${server.url}/-/sign-in`);
    await shot(page, 'sign-in');
    // a wrong password: one answer, no session
    await page.getByLabel('User name').fill(ALICE.name);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Wrong user name or password').waitFor();

    await signIn(page, ALICE);
    await page.getByRole('link', { name: 'Tokens' }).click();
    await page.getByLabel('Name').fill('laptop');
    await page.getByRole('button', { name: 'Create token' }).click();
    const token = (await page.getByTestId('new-token').textContent())?.trim() ?? '';
    assert.match(token, /^lfsd_/);
    await shot(page, 'tokens');

    // push two objects with the token as the password
    sandbox = await createGitSandbox({ username: ALICE.name, password: token });
    const work = join(sandbox.root, 'work');
    await sandbox.git(sandbox.root, ['init', '--bare', '-q', 'remote.git']);
    await sandbox.git(sandbox.root, ['init', '-q', 'work']);
    await sandbox.git(work, ['lfs', 'track', '--lockable', '*.bin']);
    writeFileSync(join(work, '.lfsconfig'), `[lfs]\n\turl = ${server.url}/alice/assets.git/info/lfs\n`);
    writeFileSync(join(work, 'hero.bin'), randomBytes(20_000));
    writeFileSync(join(work, 'level.bin'), randomBytes(30_000));
    await sandbox.git(work, ['add', '.']);
    await sandbox.git(work, ['commit', '-q', '-m', 'assets']);
    await sandbox.git(work, ['remote', 'add', 'origin', join(sandbox.root, 'remote.git')]);
    await sandbox.git(work, ['push', '-q', '-u', 'origin', 'main']);

    await page.getByRole('link', { name: 'Repositories' }).click();
    const row = page.locator('tr[data-repo="alice/assets"]');
    assert.equal((await row.getByTestId('objects').textContent())?.trim(), '2');
    await shot(page, 'repositories');

    // a lock taken with the real client, broken by an admin in the browser
    await sandbox.git(work, ['lfs', 'lock', 'hero.bin']);
    const rootPage = await newPage();
    await signIn(rootPage, ROOT);
    await rootPage.locator('a', { hasText: 'alice/assets' }).click();
    const lockRow = rootPage.locator('tr[data-lock]', { hasText: 'hero.bin' });
    assert.match((await lockRow.textContent()) ?? '', /alice/);
    await shot(rootPage, 'repository');
    rootPage.once('dialog', (dialog) => void dialog.accept());
    await lockRow.getByRole('button', { name: 'Break lock' }).click();
    await rootPage.getByText('No locks.').waitFor();
    const { stdout } = await sandbox.git(work, ['lfs', 'locks']);
    assert.equal(stdout.includes('hero.bin'), false, `locks after the break: ${stdout}`);

    // admin pages, for the README
    await rootPage.getByRole('link', { name: 'Users' }).click();
    await rootPage.locator('tr[data-user="alice"]').waitFor();
    await shot(rootPage, 'users');
    await rootPage.getByRole('link', { name: 'Grants' }).click();
    await rootPage.getByLabel('User').fill('root');
    await rootPage.getByLabel('Repository').fill('alice/assets');
    await rootPage.getByLabel('Permission').selectOption('read');
    await rootPage.getByRole('button', { name: 'Grant' }).click();
    await rootPage.locator('tr[data-grant="root alice/assets"]').waitFor();
    await shot(rootPage, 'grants');

    // a non-admin: no admin links, and 403 by URL
    assert.equal(await page.getByRole('link', { name: 'Users' }).count(), 0);
    for (const path of ['/-/users', '/-/grants']) {
      const response = await page.goto(`${server.url}${path}`);
      assert.equal(response?.status(), 403, path);
      assert.equal(await page.locator('tr[data-user]').count(), 0);
    }
    await shot(page, 'forbidden');

    // a form post without the CSRF token is refused (the browser's own cookies ride along)
    const forged = await page.request.post(`${server.url}/-/tokens`, {
      form: { name: 'forged' },
      maxRedirects: 0,
    });
    assert.equal(forged.status(), 403);
    await page.goto(`${server.url}/-/tokens`);
    assert.equal(await page.locator('tr[data-token]', { hasText: 'forged' }).count(), 0);

    // revoke the token in the browser: the client's next request is refused
    page.once('dialog', (dialog) => void dialog.accept());
    await page
      .locator('tr[data-token]', { hasText: 'laptop' })
      .getByRole('button', { name: 'Revoke' })
      .click();
    await page.locator('tr[data-token]', { hasText: 'revoked' }).waitFor();
    await assert.rejects(sandbox.git(work, ['lfs', 'locks']));

    // sign out; the back button shows nothing private
    await page.goto(`${server.url}/-/repos`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${server.url}/-/sign-in`);
    await page.goBack();
    await page.waitForLoadState();
    const body = (await page.textContent('body')) ?? '';
    assert.equal(body.includes('alice/assets'), false, `after back: ${body}`);
    assert.match(body, /Sign in/);
  });
});
