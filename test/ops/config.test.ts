// Configuration (issue 6): one schema, four sources in order, every kind of bad value named.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadSettings, maskedSettings } from '../../src/config/load-settings.js';
import { envName, flagName, settingNames } from '../../src/config/settings.js';
import { lfsdCommand } from './ops-helpers.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lfsd-config-'));
});
after(() => rm(dir, { recursive: true, force: true }));

function rejects(flags: Record<string, unknown>, ...patterns: RegExp[]): void {
  assert.throws(
    () => loadSettings({ env: {}, flags }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
      for (const pattern of patterns) assert.match(err.message, pattern);
      return true;
    },
  );
}

describe('configuration', () => {
  it('derives env and flag names from the schema', () => {
    assert.equal(envName('shutdownTimeout'), 'LFSD_SHUTDOWN_TIMEOUT');
    assert.equal(flagName('tlsCert'), 'tls-cert');
    for (const name of ['tlsCert', 'tlsKey', 'metricsListen', 'logFormat', 'shutdownTimeout']) {
      assert.ok(settingNames.includes(name as never), name);
    }
  });

  it('defaults: embedded, 30 s drain, no TLS, metrics on the main listener', () => {
    const settings = loadSettings({ env: {}, flags: { dataDir: dir } });
    assert.equal(settings.shutdownTimeout, 30);
    assert.equal(settings.listen, '127.0.0.1:8080');
    assert.equal(settings.tlsCert, undefined);
    assert.equal(settings.metricsListen, undefined);
    assert.equal(settings.logFormat, 'auto');
    assert.equal(settings.databaseUrl, `sqlite:${join(dir, 'lfsd.sqlite')}`);
  });

  describe('each kind of bad value names the key, what it expects, what it got and where from', () => {
    it('integer: not a number, fractional, below and above the range', () => {
      rejects(
        { shutdownTimeout: 'soon' },
        /^shutdownTimeout: expected an integer >= 0, got "soon" \(from flag --shutdown-timeout\)$/,
      );
      rejects({ shutdownTimeout: 1.5 }, /shutdownTimeout: expected an integer >= 0, got 1.5/);
      rejects({ databasePoolSize: '0' }, /databasePoolSize: expected an integer from 1 to 1000, got "0"/);
      rejects({ databasePoolSize: 5000 }, /databasePoolSize: expected an integer from 1 to 1000, got 5000/);
    });
    it('enumeration', () => {
      rejects({ storage: 'ftp' }, /storage: expected one of disk, s3, got "ftp"/);
      rejects(
        { logLevel: 'loud' },
        /logLevel: expected one of fatal, error, warn, info, debug, trace, silent/,
      );
      rejects({ logFormat: 'xml' }, /logFormat: expected one of auto, json, pretty, got "xml"/);
    });
    it('boolean', () => {
      rejects({ s3ForcePathStyle: 'maybe' }, /s3ForcePathStyle: expected true or false, got "maybe"/);
    });
    it('HOST:PORT', () => {
      rejects({ listen: '8080' }, /listen: expected HOST:PORT, e\.g\. 127\.0\.0\.1:8080, got "8080"/);
      rejects({ metricsListen: 'localhost' }, /metricsListen: expected HOST:PORT/);
    });
    it('URL', () => {
      rejects(
        { publicUrl: 'ftp://example.com' },
        /publicUrl: expected an http:\/\/ or https:\/\/ URL, got "ftp:\/\/example.com"/,
      );
      rejects({ s3Endpoint: 'not a url' }, /s3Endpoint: expected an http:\/\/ or https:\/\/ URL/);
    });
    it('secrets are named but never echoed', () => {
      rejects(
        { secret: 'too-short' },
        /^secret: expected a signing key of at least 32 bytes, this one has 9 \(generate one with `openssl rand -hex 32`\), got \*\*\* \(from flag --secret\)$/,
      );
      rejects({ databaseUrl: 'oracle://scott:tiger@db/x' }, /databaseUrl: expected sqlite:PATH/);
      assert.throws(
        () => loadSettings({ env: {}, flags: { databaseUrl: 'oracle://scott:tiger@db/x' } }),
        (err: Error) => {
          assert.doesNotMatch(err.message, /tiger/);
          return true;
        },
      );
    });
    it('wrong type in a config file', async () => {
      const file = join(dir, 'types.yaml');
      await writeFile(file, 'listen: 8080\nmaxBatchObjects: [1, 2]\n');
      assert.throws(
        () => loadSettings({ env: {}, configFile: file }),
        (err: Error) =>
          /listen: expected HOST:PORT, e\.g\. 127\.0\.0\.1:8080, got 8080 \(from config file .*types\.yaml\)/.test(
            err.message,
          ) && /maxBatchObjects: expected an integer from 1 to 100000, got \[1,2\]/.test(err.message),
      );
    });
    it('settings that need each other', () => {
      rejects(
        { dataDir: dir, tlsCert: '/etc/cert.pem' },
        /^tlsKey: required when tlsCert is set \(--tls-key, LFSD_TLS_KEY\)$/,
      );
      rejects({ dataDir: dir, tlsKey: '/etc/key.pem' }, /^tlsCert: required when tlsKey is set/);
      rejects({ dataDir: dir, storage: 's3' }, /^s3Bucket: required when storage is s3/);
    });
    it('a config file that is not valid YAML or JSON, or not a mapping', async () => {
      await writeFile(join(dir, 'broken.json'), '{ "listen": ');
      await writeFile(join(dir, 'list.yaml'), '- listen\n- dataDir\n');
      assert.throws(
        () => loadSettings({ env: {}, configFile: join(dir, 'broken.json') }),
        /broken\.json: not valid JSON/,
      );
      assert.throws(
        () => loadSettings({ env: {}, configFile: join(dir, 'list.yaml') }),
        /list\.yaml: expected a mapping of settings/,
      );
      assert.throws(
        () => loadSettings({ env: {}, configFile: join(dir, 'missing.yaml') }),
        /missing\.yaml: ENOENT/,
      );
    });
  });

  it('an unknown key in a config file is an error naming it and the file', async () => {
    const yamlFile = join(dir, 'typo.yaml');
    await writeFile(yamlFile, 'listen: 127.0.0.1:9000\nshutdownTimout: 10\n');
    assert.throws(
      () => loadSettings({ env: {}, configFile: yamlFile }),
      (err: unknown) =>
        err instanceof ConfigError &&
        /^unknown setting shutdownTimout in .*typo\.yaml \(known settings: .*shutdownTimeout/.test(
          err.message,
        ),
    );
    const jsonFile = join(dir, 'typo.json');
    await writeFile(jsonFile, JSON.stringify({ tls_cert: 'x', metricsPort: 9090 }));
    assert.throws(
      () => loadSettings({ env: {}, configFile: jsonFile }),
      /unknown settings tls_cert, metricsPort in .*typo\.json/,
    );
  });

  it('precedence: defaults < config file < environment < flags, per setting', async () => {
    const file = join(dir, 'precedence.yaml');
    await writeFile(
      file,
      [
        'dataDir: ' + dir,
        'listen: 127.0.0.1:1001',
        'maxBatchObjects: 11',
        'jsonBodyLimit: 2048',
        'logLevel: warn',
      ].join('\n'),
    );
    const env = {
      LFSD_CONFIG: file,
      LFSD_MAX_BATCH_OBJECTS: '22',
      LFSD_JSON_BODY_LIMIT: '4096',
      LFSD_LOG_FORMAT: 'json',
    };
    const settings = loadSettings({ env, flags: { jsonBodyLimit: '8192', logFormat: undefined } });
    assert.equal(settings.shutdownTimeout, 30, 'default: no source sets it');
    assert.equal(settings.listen, '127.0.0.1:1001', 'file over default');
    assert.equal(settings.logLevel, 'warn', 'file over default');
    assert.equal(settings.maxBatchObjects, 22, 'environment over file');
    assert.equal(settings.logFormat, 'json', 'environment over default; an undefined flag is no flag');
    assert.equal(settings.jsonBodyLimit, 8192, 'flag over environment and file');
    // --config on the command line wins over LFSD_CONFIG
    const other = join(dir, 'other.json');
    await writeFile(other, JSON.stringify({ dataDir: dir, listen: '127.0.0.1:2002' }));
    assert.equal(loadSettings({ env, flags: { config: other } }).listen, '127.0.0.1:2002');
  });

  it('environment variables that are not settings are ignored (Kubernetes injects LFSD_PORT and the like)', () => {
    const settings = loadSettings({
      env: { LFSD_PORT: 'tcp://10.0.0.1:8080', LFSD_SERVICE_HOST: '10.0.0.1', LFSD_DATA_DIR: dir },
    });
    assert.equal(settings.dataDir, dir);
  });

  it('masks secrets for printing', () => {
    const settings = loadSettings({
      env: {},
      flags: { dataDir: dir, secret: 's'.repeat(40), databaseUrl: 'postgres://lfsd:hunter2@db:5432/lfsd' },
    });
    const shown = maskedSettings(settings);
    assert.equal(shown.secret, '***');
    assert.equal(shown.databaseUrl, 'postgres://lfsd:***@db:5432/lfsd');
  });

  it('`lfsd config print` shows the effective settings from all four sources, secrets masked', async () => {
    const file = join(dir, 'print.yaml');
    await writeFile(file, `dataDir: ${dir}\nmaxBatchObjects: 11\nlisten: 127.0.0.1:1001\n`);
    const { code, stdout } = await lfsdCommand(
      [
        'config',
        'print',
        '--config',
        file,
        '--listen',
        '127.0.0.1:3003',
        '--tls-cert',
        '/c.pem',
        '--tls-key',
        '/k.pem',
      ],
      {
        LFSD_MAX_BATCH_OBJECTS: '33',
        LFSD_DATABASE_URL: 'mysql://lfsd:hunter2@db/lfsd',
        LFSD_SECRET: 'x'.repeat(32),
      },
    );
    assert.equal(code, 0);
    const printed = JSON.parse(stdout) as Record<string, unknown>;
    assert.equal(printed.listen, '127.0.0.1:3003');
    assert.equal(printed.maxBatchObjects, 33);
    assert.equal(printed.shutdownTimeout, 30);
    assert.equal(printed.tlsCert, '/c.pem');
    assert.equal(printed.secret, '***');
    assert.equal(printed.databaseUrl, 'mysql://lfsd:***@db/lfsd');
    assert.doesNotMatch(stdout, /hunter2|xxxxxxxx/);
  });

  it('`lfsd serve` with a bad setting exits 2 with the message, before binding anything', async () => {
    const { code, stderr } = await lfsdCommand([
      'serve',
      '--listen',
      '127.0.0.1:0',
      '--data-dir',
      dir,
      '--shutdown-timeout',
      'soon',
    ]);
    assert.equal(code, 2);
    assert.match(
      stderr,
      /configuration error: shutdownTimeout: expected an integer >= 0, got "soon" \(from flag --shutdown-timeout\)/,
    );
    const unknown = join(dir, 'unknown.yaml');
    await writeFile(unknown, 'metricsPort: 9090\n');
    const second = await lfsdCommand([
      'serve',
      '--listen',
      '127.0.0.1:0',
      '--data-dir',
      dir,
      '--config',
      unknown,
    ]);
    assert.equal(second.code, 2);
    assert.match(second.stderr, /unknown setting metricsPort/);
  });
});
