// Secret settings (issue 11 item 5): database URLs masked through the URL parser in every form
// the drivers accept, and `<name>File` variants so that Kubernetes secrets need not sit in the
// environment or on the command line.
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadSettings, maskedSettings } from '../../src/config/load-settings.js';
import { maskUrl } from '../../src/config/mask-url.js';
import {
  envName,
  fileSettingOf,
  flagName,
  SECRET_SETTINGS,
  settingNames,
} from '../../src/config/settings.js';
import { lfsdCommand } from '../ops/ops-helpers.js';

const PASSWORD = 'hunter2';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lfsd-secret-settings-'));
});
after(() => rm(dir, { recursive: true, force: true }));

describe('database URLs are masked in every form', () => {
  const cases: [string, string][] = [
    ['postgres://lfsd:hunter2@db:5432/lfsd', 'postgres://lfsd:***@db:5432/lfsd'],
    ['postgres://:hunter2@db/lfsd', 'postgres://:***@db/lfsd'],
    [
      'postgresql://lfsd@db/lfsd?password=hunter2&sslmode=require',
      'postgresql://lfsd@db/lfsd?password=***&sslmode=require',
    ],
    [
      'postgres://lfsd@db/lfsd?sslmode=verify-full&sslpassword=hunter2',
      'postgres://lfsd@db/lfsd?sslmode=verify-full&sslpassword=***',
    ],
    ['postgres://lfsd:hun%74er2@db/lfsd', 'postgres://lfsd:***@db/lfsd'],
    ['postgres://lfsd:p%40ss%3Aword@db/lfsd', 'postgres://lfsd:***@db/lfsd'],
    ['postgres://lfsd@db/lfsd?pass%77ord=hunter2', 'postgres://lfsd@db/lfsd?password=***'],
    [
      'postgres://lfsd@db/lfsd?PASSWORD=hunter2&password=hunter2',
      'postgres://lfsd@db/lfsd?PASSWORD=***&password=***',
    ],
    ['mysql://root:hunter2@db:3306/lfsd', 'mysql://root:***@db:3306/lfsd'],
    ['mysql://root@db/lfsd?password=hunter2', 'mysql://root@db/lfsd?password=***'],
    ['mariadb://lfsd:hunter2@db/lfsd', 'mariadb://lfsd:***@db/lfsd'],
    ['mysql://:hunter2@db/lfsd', 'mysql://:***@db/lfsd'],
    ['postgres://lfsd:pw@db/lfsd#hunter2', 'postgres://lfsd:***@db/lfsd#***'],
    ['postgres://db/lfsd', 'postgres://db/lfsd'],
    ['sqlite:/var/lib/lfsd/lfsd.sqlite', 'sqlite:/var/lib/lfsd/lfsd.sqlite'],
  ];
  for (const [url, shown] of cases) {
    it(url.replace(PASSWORD, '…'), () => {
      assert.equal(maskUrl(url), shown);
      assert.doesNotMatch(maskUrl(url), /hunter|hun%74|p%40ss/);
    });
  }

  it('input the URL parser cannot read is masked whole past its scheme', () => {
    assert.equal(maskUrl('postgres://lfsd:hunter2@[db/lfsd'), 'postgres:***');
    assert.equal(maskUrl('mysql://lfsd:hunter2@db:port/lfsd'), 'mysql:***');
    assert.equal(maskUrl('lfsd:hunter2 at db'), 'lfsd:***');
    assert.equal(maskUrl('hunter2'), '***');
  });

  it('config print and the start-up log (maskedSettings) use it', () => {
    for (const [url, shown] of cases.filter(([u]) => !u.startsWith('sqlite'))) {
      const settings = loadSettings({ env: {}, flags: { dataDir: dir, databaseUrl: url } });
      assert.equal(maskedSettings(settings).databaseUrl, shown);
    }
  });
});

describe('<name>File variants of secret settings', () => {
  it('exist for every secret setting, with an environment variable and a flag', () => {
    for (const name of SECRET_SETTINGS) {
      const fileName = fileSettingOf(name);
      assert.ok(settingNames.includes(fileName), fileName);
      assert.equal(envName(fileName), `${envName(name)}_FILE`);
      assert.equal(flagName(fileName), `${flagName(name)}-file`);
    }
    assert.equal(envName(fileSettingOf('secret')), 'LFSD_SECRET_FILE');
    assert.equal(envName(fileSettingOf('databaseUrl')), 'LFSD_DATABASE_URL_FILE');
  });

  it('read the value from the file (trailing newline trimmed), from env, flag or config file', async () => {
    const secretFile = join(dir, 'secret');
    const urlFile = join(dir, 'database-url');
    const secret = 'a-signing-key-read-from-a-mounted-file';
    await writeFile(secretFile, `${secret}\n`);
    await writeFile(urlFile, `postgres://lfsd:${PASSWORD}@db/lfsd\r\n`);
    const config = join(dir, 'files.yaml');
    await writeFile(config, `secretFile: ${secretFile}\ndatabaseUrlFile: ${urlFile}\n`);
    for (const sources of [
      { env: { LFSD_SECRET_FILE: secretFile, LFSD_DATABASE_URL_FILE: urlFile } },
      { env: {}, flags: { secretFile, databaseUrlFile: urlFile } },
      { env: {}, configFile: config },
    ]) {
      const settings = loadSettings({ ...sources, flags: { dataDir: dir, ...(sources.flags ?? {}) } });
      assert.equal(settings.secret, secret);
      assert.equal(settings.databaseUrl, `postgres://lfsd:${PASSWORD}@db/lfsd`);
      const shown = JSON.stringify(maskedSettings(settings));
      assert.doesNotMatch(shown, /hunter2|mounted-file/);
    }
  });

  it('the value read must pass the same rules, and is never echoed', async () => {
    const file = join(dir, 'short-secret');
    await writeFile(file, 'short-but-secret\n');
    assert.throws(
      () => loadSettings({ env: { LFSD_SECRET_FILE: file } }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /^secret: expected a signing key of at least 32 bytes, this one has 16/);
        assert.match(err.message, /from file .*short-secret, secretFile from environment LFSD_SECRET_FILE/);
        assert.doesNotMatch(err.message, /short-but-secret/);
        return true;
      },
    );
  });

  it('setting both a value and its file is an error naming both sources', async () => {
    const file = join(dir, 'both');
    await writeFile(file, 'k'.repeat(40));
    assert.throws(
      () => loadSettings({ env: { LFSD_SECRET: 'k'.repeat(40) }, flags: { secretFile: file } }),
      /secret: set both directly \(from environment LFSD_SECRET\) and as a file \(secretFile from flag --secret-file\); set one of them$/,
    );
  });

  it('an unreadable file is an error naming the setting and the file', async () => {
    assert.throws(
      () => loadSettings({ env: { LFSD_DATABASE_URL_FILE: join(dir, 'missing') } }),
      /databaseUrlFile: cannot read .*missing: ENOENT.*\(from environment LFSD_DATABASE_URL_FILE\)$/,
    );
    if (process.getuid?.() !== 0) {
      const locked = join(dir, 'locked');
      await writeFile(locked, 'x');
      await chmod(locked, 0);
      assert.throws(
        () => loadSettings({ env: { LFSD_SECRET_FILE: locked } }),
        /secretFile: cannot read .*EACCES/,
      );
    }
  });

  it('`lfsd config print` reads them and shows neither value', async () => {
    const secretFile = join(dir, 'print-secret');
    const urlFile = join(dir, 'print-url');
    await writeFile(secretFile, 'printed-key-must-stay-hidden-0123456789\n');
    await writeFile(urlFile, `mysql://root@db/lfsd?password=${PASSWORD}\n`);
    const { code, stdout, stderr } = await lfsdCommand(
      ['config', 'print', '--data-dir', dir, '--secret-file', secretFile],
      {
        LFSD_DATABASE_URL_FILE: urlFile,
      },
    );
    assert.equal(code, 0, stderr);
    const printed = JSON.parse(stdout) as Record<string, unknown>;
    assert.equal(printed.secret, '***');
    assert.equal(printed.secretFile, secretFile);
    assert.equal(printed.databaseUrl, 'mysql://root@db/lfsd?password=***');
    assert.doesNotMatch(stdout, /hunter2|must-stay-hidden/);
  });
});
