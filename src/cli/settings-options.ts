/**
 * Command-line flags for settings, derived from the one settings schema (config/settings.ts):
 * `serve` takes every setting as a flag; admin commands take what locates the metadata.
 */
import { Option, type Command } from 'commander';
import { loadSettings } from '../config/load-settings.js';
import { envName, flagName, settingNames, type SettingName, type Settings } from '../config/settings.js';

const BOOLEAN_SETTINGS = new Set<SettingName>(['s3ForcePathStyle']);

export function addSettingOptions(command: Command, names: readonly SettingName[] = settingNames): Command {
  command.addOption(new Option('--config <file>', 'YAML or JSON config file').env('LFSD_CONFIG'));
  for (const name of names) {
    const flag = BOOLEAN_SETTINGS.has(name) ? `--${flagName(name)} [bool]` : `--${flagName(name)} <value>`;
    command.addOption(new Option(flag, `setting ${name} (env ${envName(name)})`));
  }
  return command;
}

/** Settings for a command from its parsed flags (environment and config file merged by loadSettings). */
export function settingsFrom(options: Record<string, unknown>): Settings {
  const flags: Record<string, unknown> = { config: options.config };
  for (const name of settingNames) {
    const value = options[name];
    flags[name] = value === true ? 'true' : value;
  }
  return loadSettings({ flags });
}

/** the settings an admin command needs to find the same metadata a running `serve` uses */
export const METADATA_SETTINGS: readonly SettingName[] = [
  'dataDir',
  'databaseUrl',
  'databaseUrlFile',
  'logLevel',
];
