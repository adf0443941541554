import type { Task } from '../tasks/types.js';

/**
 * The shapes of tasks and events on the wire. Free of Node imports: the console's front end
 * and the CLI type their data with these, so neither can drift from what the server sends.
 */
export type WebCastTaskView = Pick<
  Task,
  'StartTime' | 'EndTime' | 'Status' | 'StopReason' | 'UserId' | 'SourceURL' | 'BusinessId' | 'VideoSolutions' | 'MaxRunningTime' | 'MonitorConfig' | 'EventNotifyConfig'
>;

/** A task in a list: as GetWebCastTask shows it, plus the key it is known by. */
export type ListedTask = WebCastTaskView & Pick<Task, 'AppId' | 'RoomId' | 'TaskId'>;

export interface ApiEvent {
  EventId: string;
  EventType: string;
  /** RFC 3339 */
  EventTime: string;
  EventData: Record<string, unknown>;
  Delivery: { State: 'pending' | 'delivered' | 'failed' | 'skipped'; Attempts: number; LastError: string };
}

/** StartWebcast's Result for a task that is already active: the vendor's own words. */
export const ALREADY_STARTED = 'The task has been started. Please do not call the startup task interface repeatedly';

/** What each Status means, in words, for people reading a list. */
export const STATUS_NAMES: Readonly<Record<number, string>> = { 0: 'unknown', 1: 'waiting', 2: 'running', 3: 'ended', 4: 'failed' };
