import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import type * as Yaml from 'yaml';
import type { z } from 'zod/mini';
import {
  envName,
  fileSettingOf,
  flagName,
  SECRET_SETTINGS,
  settingNames,
  settingsSchema,
  type Settings,
} from './settings.js';
import { ConfigError } from './config-error.js';
import { maskUrl } from './mask-url.js';

// yaml is loaded only when a YAML config file is read: a server started from flags and
// environment alone keeps it out of its heap (about 1 MB)
const requireLazily = createRequire(import.meta.url);
function parseYaml(text: string): unknown {
  return (requireLazily('yaml') as typeof Yaml).parse(text);
}

export { ConfigError };

export interface SettingSources {
  /** path of a YAML or JSON config file */
  configFile?: string;
  env?: NodeJS.ProcessEnv;
  /** values from command-line flags, keyed by setting name; undefined entries are ignored */
  flags?: Partial<Record<string, unknown>>;
}

/** Merge defaults < config file < environment < flags, validate, and resolve derived defaults. */
export function loadSettings(sources: SettingSources = {}): Settings {
  const env = sources.env ?? process.env;
  const configFile = (sources.flags?.config as string | undefined) ?? sources.configFile ?? env.LFSD_CONFIG;
  const merged: Record<string, unknown> = {};
  /** where each value came from, for error messages */
  const origins: Record<string, string> = {};
  const layer = (values: Record<string, unknown>, origin: (name: string) => string) => {
    for (const [name, value] of Object.entries(values)) {
      merged[name] = value;
      origins[name] = origin(name);
    }
  };
  if (configFile) layer(readConfigFile(configFile), () => `config file ${configFile}`);
  layer(fromEnv(env), (name) => `environment ${envName(name)}`);
  layer(definedOnly(sources.flags ?? {}), (name) => `flag --${flagName(name)}`);
  delete merged.config;
  readSecretFiles(merged, origins);
  const parsed = settingsSchema.safeParse(merged);
  if (!parsed.success) throw new ConfigError(describeIssues(parsed.error, merged, origins, configFile));
  const settings = parsed.data;
  settings.dataDir = resolve(settings.dataDir);
  settings.databaseUrl ??= `sqlite:${resolve(settings.dataDir, 'lfsd.sqlite')}`;
  if (settings.storage === 's3' && !settings.s3Bucket) {
    throw new ConfigError('s3Bucket: required when storage is s3 (--s3-bucket, LFSD_S3_BUCKET)');
  }
  if ((settings.tlsCert === undefined) !== (settings.tlsKey === undefined)) {
    const missing = settings.tlsCert === undefined ? 'tlsCert' : 'tlsKey';
    throw new ConfigError(
      `${missing}: required when ${missing === 'tlsCert' ? 'tlsKey' : 'tlsCert'} is set (--${flagName(missing)}, ${envName(missing)})`,
    );
  }
  return Object.freeze(settings);
}

/** `<name>File` settings: the value of secret setting `name` read from that file */
function readSecretFiles(merged: Record<string, unknown>, origins: Record<string, string>): void {
  for (const name of SECRET_SETTINGS) {
    const fileName = fileSettingOf(name);
    const path = merged[fileName];
    if (path === undefined) continue;
    if (merged[name] !== undefined) {
      throw new ConfigError(
        `${name}: set both directly (from ${origins[name]}) and as a file (${fileName} from ${origins[fileName]}); set one of them`,
      );
    }
    if (typeof path !== 'string' || path === '') continue; // the schema names the problem
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new ConfigError(
        `${fileName}: cannot read ${path}: ${(err as Error).message} (from ${origins[fileName]})`,
      );
    }
    // `echo` and `kubectl create secret --from-file` leave a trailing newline; the value never has one
    merged[name] = text.replace(/\r?\n$/, '');
    origins[name] = `file ${path}, ${fileName} from ${origins[fileName]}`;
  }
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`config file ${path}: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError(
      `config file ${path}: not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message}`,
    );
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value))
    throw new ConfigError(`config file ${path}: expected a mapping of settings`);
  return value as Record<string, unknown>;
}

function fromEnv(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const name of settingNames) {
    const value = env[envName(name)];
    if (value !== undefined && value !== '') values[name] = value;
  }
  return values;
}

function definedOnly(values: Partial<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined));
}

function describeIssues(
  error: z.core.$ZodError,
  values: Record<string, unknown>,
  origins: Record<string, string>,
  configFile: string | undefined,
): string {
  return error.issues
    .map((issue) => {
      if (issue.code === 'unrecognized_keys') {
        const known = `known settings: ${settingNames.join(', ')}`;
        return `unknown setting${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}${configFile ? ` in ${configFile}` : ''} (${known})`;
      }
      const key = String(issue.path[0] ?? '');
      const value = values[key];
      const shown = (SECRET_SETTINGS as readonly string[]).includes(key) ? '***' : JSON.stringify(value);
      const got = value === undefined ? '' : `, got ${shown}`;
      const origin = origins[key] ? ` (from ${origins[key]})` : ` (--${flagName(key)}, ${envName(key)})`;
      return `${key}: ${issue.message}${got}${origin}`;
    })
    .join('; ');
}

/** The settings with secrets masked, for `lfsd config print` and start-up logs. */
export function maskedSettings(settings: Settings): Record<string, unknown> {
  const shown: Record<string, unknown> = { ...settings };
  for (const name of SECRET_SETTINGS) {
    const value = shown[name];
    if (typeof value !== 'string') continue;
    shown[name] = name === 'databaseUrl' ? maskUrl(value) : '***';
  }
  return shown;
}
