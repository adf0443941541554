import type { RateLimits } from '../config.js';
import { ApiError } from './errors.js';

/** The canonical action names; each is also accepted with the other spelling of "cast". */
export type ActionName = keyof RateLimits;

export interface ActionDef {
  name: ActionName;
  method: 'GET' | 'POST';
}

const ACTIONS: readonly ActionDef[] = [
  { name: 'StartWebcast', method: 'POST' },
  { name: 'StopWebcast', method: 'POST' },
  { name: 'GetWebCastTask', method: 'GET' },
  // Not the vendor's: what a console or a command line needs to list and follow tasks.
  { name: 'ListWebcastTasks', method: 'GET' },
  { name: 'ListWebcastTaskEvents', method: 'GET' },
  // The operator's: the nodes of the cluster, for keys allowed every AppId.
  { name: 'ListWebcastNodes', method: 'GET' },
  { name: 'DrainWebcastNode', method: 'POST' },
];

export const SUPPORTED_VERSIONS: readonly string[] = ['2020-12-01', '2023-11-01'];

/** The vendor's own pages spell both `Webcast` and `WebCast`, so both are one action. */
const canonicalSpelling = (action: string): string => action.replace(/Web[cC]ast/, 'Webcast');

const BY_SPELLING = new Map(ACTIONS.map((a) => [canonicalSpelling(a.name), a]));

export function resolveAction(action: string | undefined, version: string | undefined): ActionDef {
  if (!action) throw new ApiError('InvalidActionOrVersion', 'the query has no Action');
  const def = BY_SPELLING.get(canonicalSpelling(action));
  if (!def) throw new ApiError('InvalidActionOrVersion', `unknown Action "${action}"; this service has ${ACTIONS.map((a) => a.name).join(', ')}`);
  if (!version) throw new ApiError('InvalidActionOrVersion', 'the query has no Version');
  if (!SUPPORTED_VERSIONS.includes(version)) {
    throw new ApiError('InvalidActionOrVersion', `Version "${version}" is not supported; use ${SUPPORTED_VERSIONS.join(' or ')}`);
  }
  return def;
}
