/** The task model as the OpenAPI speaks it. Field names are the wire names on purpose. */

export const TaskStatus = {
  Unknown: 0,
  NotStarted: 1,
  Running: 2,
  Ended: 3,
  Failed: 4,
} as const;
export type TaskStatus = (typeof TaskStatus)[keyof typeof TaskStatus];

export const StopReason = {
  None: '',
  Unknown: 'UnknownStopReason',
  StopByAPI: 'StopByAPI',
  StartTaskFailed: 'StartTaskFailed',
  ExceedMaxRunningTime: 'ExceedMaxRunningTime',
  /** EventNotify: the page never called onWebcastStart(), through every refresh and reschedule. */
  StartEventTimeout: 'StartEventTimeout',
  /** The monitors found the page blank, frozen or crashed through every refresh and reschedule. */
  PageBlank: 'PageBlank',
  PageFreeze: 'PageFreeze',
  PageCrash: 'PageCrash',
  /** Ours: the node died soon after resuming the task, again and again; it is not resumed any more. */
  NodeCrashLoop: 'NodeCrashLoop',
  /** Ours, a reschedule's Reason in a cluster: the node that ran the task stopped answering; another took it over. */
  NodeLost: 'NodeLost',
  /** Ours, likewise: the node that ran the task was drained and handed it over. */
  NodeDrained: 'NodeDrained',
  /** Ours, a reschedule's Reason: the node stayed overloaded and moved its newest task off, back to the waiting line. */
  NodeOverloaded: 'NodeOverloaded',
} as const;
export type StopReason = (typeof StopReason)[keyof typeof StopReason];

export interface VideoSolution {
  Width: number;
  Height: number;
  FrameRate: number;
  /** kbps; 0 = adaptive */
  Bitrate: number;
}

/** Seconds between checks; 0 = off. */
export interface MonitorConfig {
  BlankCheckInterval: number;
  FreezeCheckInterval: number;
  CrashCheckInterval: number;
}

export interface EventNotifyConfig {
  EnableEventNotify: boolean;
  /** Seconds; 0 = wait for onWebcastStart() forever. */
  StartTimeout: number;
}

export interface TaskKey {
  AppId: string;
  RoomId: string;
  TaskId: string;
}

/** What a customer asked for, validated and with every default filled in. */
export interface TaskSpec extends TaskKey {
  UserId: string;
  SourceURL: string;
  BusinessId: string;
  MaxRunningTime: number;
  /** One or two entries, the largest first. */
  VideoSolutions: VideoSolution[];
  MonitorConfig: MonitorConfig;
  EventNotifyConfig: EventNotifyConfig;
}

export interface Task extends TaskSpec {
  Status: TaskStatus;
  StopReason: StopReason;
  /** Unix ms when StartWebcast accepted the task; kept across reschedules. */
  StartTime: number;
  /** Unix ms; 0 while the task is active. */
  EndTime: number;
  /** Unix ms of the last change, for the store's bookkeeping. */
  UpdatedAt: number;
  /**
   * Why the task failed, in words a customer can act on: sent in the WebcastEnd callback and
   * shown by ListWebcastTaskEvents, the console and the CLI, but not in GetWebCastTask (the
   * vendor's shape). Never holds a URL's query or a secret.
   */
  FailureDetail: string;
}

export const taskKeyOf = (t: TaskKey): TaskKey => ({ AppId: t.AppId, RoomId: t.RoomId, TaskId: t.TaskId });

export const DEFAULT_VIDEO_SOLUTION: VideoSolution = { Width: 1280, Height: 720, FrameRate: 15, Bitrate: 0 };
export const DEFAULT_MAX_RUNNING_TIME = 86_400;
/** Only tasks started within this window are visible, and their TaskIds cannot be reused. */
export const TASK_VISIBILITY_MS = 72 * 3600 * 1000;
