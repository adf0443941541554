import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

/** A second service was started on a data folder that one is using already. */
export class DataFolderInUse extends Error {}

/**
 * One service per data folder: two would resume the same tasks and publish them twice, and
 * overwrite each other's Janus configuration. The lock is SQLite's exclusive file lock (an
 * fcntl lock), which the kernel releases when the process ends, however it ends: a killed
 * service never leaves a lock behind that a person would have to remove.
 */
export class DataFolderLock {
  private constructor(private readonly db: Database.Database, private readonly pidFile: string) {}

  static acquire(dataDir: string): DataFolderLock {
    const db = new Database(path.join(dataDir, 'service.lock'), { timeout: 0 });
    const pidFile = path.join(dataDir, 'service.pid');
    try {
      // In exclusive locking mode, the first write takes the lock and keeps it until close.
      db.pragma('locking_mode = EXCLUSIVE');
      db.exec('BEGIN EXCLUSIVE; COMMIT');
    } catch (err) {
      db.close();
      if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err;
      const holder = readPid(pidFile);
      throw new DataFolderInUse(
        `another webcast service${holder ? ` (pid ${holder})` : ''} is using the data folder ${dataDir}; stop it first, or give this one another WEBCAST_DATA_DIR`,
      );
    }
    writeFileSync(pidFile, `${process.pid}\n`, { mode: 0o600 });
    return new DataFolderLock(db, pidFile);
  }

  release(): void {
    rmSync(this.pidFile, { force: true });
    this.db.close();
  }
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
