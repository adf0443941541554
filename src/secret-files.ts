import { readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
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
  return files.filter(({ file }) => everyoneReads(file));
}

export function everyoneReads(file: string): boolean {
  try {
    return (statSync(file).mode & 0o004) !== 0;
  } catch {
    return false;
  }
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

/** How far copiesIn looks: /etc holds a few thousand files, a few levels deep. */
const MOST_ENTRIES = 50_000;
const DEEPEST = 12;

/**
 * Where else under `folder` the machine holds the secrets of `files` (real paths): a second hard
 * link to one of them, a copy (the same bytes), or a backup beside it named after it
 * (`keys.json.bak`, `keys.json~`, `.keys.json.swp`, `#keys.json#`). `folder` is the node's
 * /etc, the one folder of the node's that may hold such files and that a browser's root shows
 * (browser-mounts.ts). Looked for once, at start: a copy made later is not found.
 */
export function copiesIn(folder: string, files: readonly string[]): string[] {
  const secrets = files.flatMap((file) => {
    try {
      const st = statSync(file);
      return st.isFile() ? [{ file, dev: st.dev, ino: st.ino, size: st.size, bytes: readFileSync(file), name: path.basename(file), dir: path.dirname(file) }] : [];
    } catch {
      return [];
    }
  });
  const found: string[] = [];
  let seen = 0;
  const visit = (dir: string, depth: number): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      seen += 1;
      if (seen > MOST_ENTRIES) return;
      const p = path.join(dir, entry.name);
      // A link is not followed: where it leads is found on its own, if under the folder at all.
      if (entry.isDirectory() && depth < DEEPEST) visit(p, depth + 1);
      if (!entry.isFile() || files.includes(p)) continue;
      let st;
      try {
        st = statSync(p);
      } catch {
        continue;
      }
      const same = secrets.some((s) =>
        (s.dev === st.dev && s.ino === st.ino) ||
        (dir === s.dir && [s.name, `.${s.name}`, `#${s.name}`].some((start) => entry.name.startsWith(start))) ||
        (st.size === s.size && s.size > 0 && readsAs(p, s.bytes)));
      if (same) found.push(p);
    }
  };
  visit(folder, 0);
  return found;
}

function readsAs(file: string, bytes: Buffer): boolean {
  try {
    return readFileSync(file).equals(bytes);
  } catch {
    return false;
  }
}
