import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * What a node last measured its tasks to take against the model (measuredCostFactor), kept in
 * its data folder: a node that restarts knows its machine from the first task on, instead of
 * admitting a burst by the model and shedding it again on a machine slower than the model's.
 */
const FILE = 'cost-factor.json';

export function loadCostFactor(dataDir: string): number | undefined {
  try {
    const { factor } = JSON.parse(readFileSync(path.join(dataDir, FILE), 'utf8')) as { factor?: unknown };
    return typeof factor === 'number' && Number.isFinite(factor) && factor >= 1 && factor <= 10 ? factor : undefined;
  } catch {
    // None yet, or unreadable: the model alone, as on a new node.
    return undefined;
  }
}

/**
 * Saves the factor when it moved by 5 % or more since the last save, not on every measurement;
 * true when it moved so.
 */
export function costFactorSaver(dataDir: string, saved: number | undefined): (factor: number) => boolean {
  let last = saved;
  return (factor) => {
    if (last !== undefined && Math.abs(factor - last) < 0.05 * last) return false;
    last = factor;
    const file = path.join(dataDir, FILE);
    try {
      writeFileSync(`${file}.tmp`, `${JSON.stringify({ factor: Number(factor.toFixed(3)), measuredAt: new Date().toISOString() })}\n`, { mode: 0o600 });
      renameSync(`${file}.tmp`, file);
    } catch {
      // A full or read-only disk: the factor is a hint for the next start, not worth a task.
    }
    return true;
  };
}
