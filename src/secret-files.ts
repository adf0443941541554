import { realpathSync, statSync } from 'node:fs';
import type { Config } from './config.js';

/** A file of secrets a node reads, and the setting that names it. */
export interface SecretFile {
  setting: 'WEBCAST_KEYS_FILE' | 'WEBCAST_WHIP_FILE' | 'WEBCAST_CALLBACKS_FILE';
  file: string;
}

/** The files of secrets the configuration names: API keys, WHIP tokens, callback secrets. */
export function secretFiles(config: Pick<Config, 'keysFile' | 'whipFile' | 'callbacksFile'>): SecretFile[] {
  const named: [SecretFile['setting'], string | undefined][] = [
    ['WEBCAST_KEYS_FILE', config.keysFile],
    ['WEBCAST_WHIP_FILE', config.whipFile],
    ['WEBCAST_CALLBACKS_FILE', config.callbacksFile],
  ];
  return named.flatMap(([setting, file]) => (file ? [{ setting, file }] : []));
}

/** Those that every user of the machine may read (the node reads them at start, so they exist). */
export function readableByEveryone(files: readonly SecretFile[]): SecretFile[] {
  return files.filter(({ file }) => {
    try {
      return (statSync(file).mode & 0o004) !== 0;
    } catch {
      return false;
    }
  });
}

/** Where each file really is: a browser's root holds the system's folders, where a link's target may be. */
export function realPaths(files: readonly SecretFile[]): string[] {
  return files.flatMap(({ file }) => {
    try {
      return [realpathSync(file)];
    } catch {
      return [];
    }
  });
}
