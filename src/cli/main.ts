import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ALREADY_STARTED, STATUS_NAMES } from '../api/wire.js';
import { ApiCallError, UnreachableError, callApi, type Connection } from './client.js';
import { failureDetail, formatEvent, formatTable, formatTask, ago, statusText, type EventView, type TaskView } from './format.js';
import { UsageError, resolveConnection, type ConnectionFlags } from './settings.js';

/** What a script can rely on. */
export const ExitCode = { Ok: 0, ApiError: 1, Usage: 2, Unreachable: 3, TaskFailed: 4 } as const;

interface GlobalFlags extends ConnectionFlags {
  json?: boolean;
}

interface KeyFlags {
  app: string;
  room: string;
  task: string;
}

/** The statuses a task can be listed by: 1 to 4, by number or by name. */
const LISTED_STATUSES = [1, 2, 3, 4].map((n) => [n, STATUS_NAMES[n] ?? String(n)] as const);
const out = (text: string): void => void process.stdout.write(`${text}\n`);
const json = (value: unknown): void => out(JSON.stringify(value));

/** An integer in [min, max]; with `zero`, 0 too, saying what it means: the API's own rules. */
function integer(min: number, max: number, zero?: string) {
  return (value: string): number => {
    const n = /^-?\d+$/.test(value.trim()) ? Number(value) : NaN;
    if (zero !== undefined && n === 0) return n;
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected ${zero !== undefined ? `0 (${zero}) or ` : ''}an integer in [${min}, ${max}]`);
    return n;
  };
}

const ordinal = (n: number): string => `${n}${[undefined, 'st', 'nd', 'rd'][n % 100 >= 11 && n % 100 <= 13 ? 0 : n % 10] ?? 'th'}`;
// A countdown: whole minutes left, never rounded up (3599 s is 59 min, not 60).
const duration = (s: number): string => (s >= 3600 ? `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min` : s >= 60 ? `${Math.floor(s / 60)} min` : `${s} s`);

/** How long `watch` rides through a service that cannot be reached (a restart) before it gives up. */
const UNREACHABLE_GRACE_MS = 60_000;

/** --layer 1280x720@30[:2000]: width x height @ fps, then kbps (absent or 0 = adaptive). */
function layer(value: string, previous: unknown[] = []): unknown[] {
  const m = /^(\d+)x(\d+)(?:@(\d+))?(?::(\d+))?$/.exec(value);
  if (!m) throw new InvalidArgumentError('expected WIDTHxHEIGHT[@FPS][:KBPS], e.g. 1280x720@30 or 640x360@15:500');
  const solution = { Width: Number(m[1]), Height: Number(m[2]), FrameRate: m[3] ? Number(m[3]) : 15, Bitrate: m[4] ? Number(m[4]) : 0 };
  return [...previous, solution];
}

function program(): Command {
  const cli = new Command('webcast')
    .description('Drive a webcast service from a terminal: start, stop, get, list and watch tasks.')
    .option('--endpoint <url>', 'the service (env WEBCAST_ENDPOINT; default http://127.0.0.1:8080)')
    .option('--access-key <key>', 'access key (env WEBCAST_ACCESS_KEY)')
    .option('--secret-key <key>', 'secret key (env WEBCAST_SECRET_KEY; a flag is visible to other users in ps)')
    .option('--config <file>', 'JSON file with endpoint, accessKey, secretKey (env WEBCAST_CLI_CONFIG; default ~/.config/webcast/cli.json)')
    .option('--api-version <version>', 'API Version to send', '2020-12-01')
    .option('--json', 'print the API\'s JSON (one object per line for watch) instead of text')
    // One line says what is wrong; the whole help would bury it.
    .showHelpAfterError('(add --help for the usage)')
    .exitOverride();

  const keyed = (c: Command, taskRequired = true): Command =>
    c.requiredOption('-a, --app <AppId>', 'AppId').requiredOption('-r, --room <RoomId>', 'RoomId')[taskRequired ? 'requiredOption' : 'option']('-t, --task <TaskId>', 'TaskId');

  const connection = (c: Command): Connection => resolveConnection(c.optsWithGlobals<GlobalFlags>(), process.env, process.cwd());
  const isJson = (c: Command): boolean => c.optsWithGlobals<GlobalFlags>().json === true;

  keyed(cli.command('start').description('start publishing a page into a room (StartWebcast)'))
    .requiredOption('-u, --user <UserId>', 'the user the page publishes as')
    .requiredOption('--url <SourceURL>', 'the page to publish')
    .option('--business-id <id>', 'BusinessId')
    .option('--max-running-time <seconds>', 'end after this many seconds [10, 86400]', integer(10, 86_400, 'the default, 86400'))
    .option('--layer <WxH@FPS:KBPS>', 'a simulcast layer; give it twice for two (default 1280x720@15)', layer)
    .option('--blank-check <seconds>', 'MonitorConfig.BlankCheckInterval [2, 30]', integer(2, 30, 'off'))
    .option('--freeze-check <seconds>', 'MonitorConfig.FreezeCheckInterval [2, 30]', integer(2, 30, 'off'))
    .option('--crash-check <seconds>', 'MonitorConfig.CrashCheckInterval [0, 30]', integer(0, 30))
    .option('--event-notify', 'wait for the page to call onWebcastStart()')
    .option('--start-timeout <seconds>', 'EventNotifyConfig.StartTimeout [0, 60]', integer(0, 60))
    .option('-w, --watch', 'then follow the task until it ends, as `webcast watch`')
    .action(async (o: KeyFlags & Record<string, unknown>, c: Command) => {
      const monitor = { BlankCheckInterval: o.blankCheck, FreezeCheckInterval: o.freezeCheck, CrashCheckInterval: o.crashCheck };
      const body = {
        AppId: o.app,
        RoomId: o.room,
        TaskId: o.task,
        UserId: o.user,
        SourceURL: o.url,
        BusinessId: o.businessId,
        MaxRunningTime: o.maxRunningTime,
        VideoSolutions: o.layer,
        MonitorConfig: Object.values(monitor).some((v) => v !== undefined) ? monitor : undefined,
        EventNotifyConfig: o.eventNotify || o.startTimeout !== undefined ? { EnableEventNotify: o.eventNotify === true, StartTimeout: o.startTimeout } : undefined,
      };
      const conn = connection(c);
      const result = await callApi(conn, 'StartWebcast', 'POST', body);
      const already = result === ALREADY_STARTED;
      if (isJson(c)) json({ Result: result });
      else out(already ? `task ${o.task} is already active in ${o.app}/${o.room}` : `started task ${o.task} in ${o.app}/${o.room}`);
      if (o.watch) process.exitCode = await watch(conn, o, isJson(c), {});
    });

  keyed(cli.command('stop').description('stop a task (StopWebcast)')).action(async (o: KeyFlags, c: Command) => {
    const result = await callApi(connection(c), 'StopWebcast', 'POST', { AppId: o.app, RoomId: o.room, TaskId: o.task });
    if (isJson(c)) json({ Result: result });
    else out(`stopped task ${o.task} in ${o.app}/${o.room}`);
  });

  keyed(cli.command('get').description('show a task; without --task, the room\'s latest (GetWebCastTask)'), false).action(async (o: Partial<KeyFlags>, c: Command) => {
    const conn = connection(c);
    const result = (await callApi(conn, 'GetWebCastTask', 'GET', { AppId: o.app, RoomId: o.room, TaskId: o.task })) as { WebCastTask: TaskView };
    if (isJson(c)) return json(result);
    // Get's answer is the vendor's, without the TaskId it found or why it failed: the list and
    // the events have them.
    const taskId = o.task ?? ((await callApi(conn, 'ListWebcastTasks', 'GET', { AppId: o.app, RoomId: o.room, Limit: 1 })) as { WebCastTasks: TaskView[] }).WebCastTasks[0]?.TaskId;
    const why = result.WebCastTask.Status === 4 && taskId
      ? failureDetail(((await callApi(conn, 'ListWebcastTaskEvents', 'GET', { AppId: o.app, RoomId: o.room, TaskId: taskId })) as { Events: EventView[] }).Events)
      : undefined;
    out(formatTask(result.WebCastTask, `${o.app}/${o.room}/${taskId ?? '(latest)'}`, Date.now(), why));
  });

  cli
    .command('list')
    .description('list an app\'s tasks of the last 72 hours, newest first (ListWebcastTasks)')
    .requiredOption('-a, --app <AppId>', 'AppId')
    .option('-r, --room <RoomId>', 'only this room')
    .addOption(new Option('-s, --status <status>', 'only this status').choices([...LISTED_STATUSES.map(([, name]) => name), ...LISTED_STATUSES.map(([n]) => String(n))]))
    .option('-n, --limit <n>', 'at most this many [1, 100]', integer(1, 100), 50)
    .action(async (o: { app: string; room?: string; status?: string; limit: number }, c: Command) => {
      const status = o.status === undefined ? undefined : LISTED_STATUSES.find(([n, name]) => o.status === name || o.status === String(n))?.[0];
      const result = (await callApi(connection(c), 'ListWebcastTasks', 'GET', { AppId: o.app, RoomId: o.room, Status: status, Limit: o.limit })) as { WebCastTasks: TaskView[] };
      if (isJson(c)) return json(result);
      if (result.WebCastTasks.length === 0) return out('no tasks');
      const now = Date.now();
      out(formatTable([
        ['ROOM', 'TASK', 'STATUS', 'USER', 'STARTED'],
        ...result.WebCastTasks.map((t) => [t.RoomId ?? '', t.TaskId ?? '', statusText(t.Status) + (t.StopReason ? ` ${t.StopReason}` : ''), t.UserId, ago(t.StartTime, now)]),
      ]));
    });

  cli
    .command('nodes')
    .description('list the nodes of the cluster: role, tasks, last heartbeat, draining (ListWebcastNodes; a key allowed every AppId)')
    .action(async (_o: object, c: Command) => {
      const result = (await callApi(connection(c), 'ListWebcastNodes', 'GET', {})) as { Nodes: NodeView[] };
      if (isJson(c)) return json(result);
      const now = Date.now();
      out(formatTable([
        ['NODE', 'ROLE', 'ADDRESS', 'TASKS', 'HEARTBEAT', 'STATE'],
        ...result.Nodes.map((n) => [n.NodeId, n.Role, n.Address, n.Role === 'worker' ? `${n.Running}/${n.Capacity}` : '-', ago(n.HeartbeatAt, now), n.Draining ? 'draining' : 'up']),
      ]));
    });

  cli
    .command('drain')
    .description('make a worker of the cluster claim nothing more and hand its tasks to the others; it stays up (DrainWebcastNode; a key allowed every AppId)')
    .argument('[node]', 'its id, as `webcast nodes` shows it; the node the endpoint reaches by default')
    .action(async (node: string | undefined, _o: object, c: Command) => {
      const result = (await callApi(connection(c), 'DrainWebcastNode', 'POST', node ? { NodeId: node } : {})) as { NodeId: string };
      if (isJson(c)) return json(result);
      out(`node ${result.NodeId} drains: its tasks go to the other workers; \`webcast nodes\` shows it draining`);
    });

  keyed(cli.command('watch').description('follow a task\'s status and events until it ends'))
    .option('--interval <ms>', 'how often to ask', integer(200, 60_000), 1000)
    .option('--timeout <seconds>', 'give up after this long (exit 3)', integer(1, 1_000_000))
    .action(async (o: KeyFlags & { interval: number; timeout?: number }, c: Command) => {
      process.exitCode = await watch(connection(c), o, isJson(c), { intervalMs: o.interval, timeoutS: o.timeout });
    });
  return cli;
}

interface NodeView {
  NodeId: string;
  Role: string;
  Address: string;
  Capacity: number;
  Running: number;
  Draining: boolean;
  HeartbeatAt: number;
}

/** Follows a task until it ends: prints each event once, a progress line while it waits for its first frame. */
async function watch(conn: Connection, key: KeyFlags, asJson: boolean, o: { intervalMs?: number; timeoutS?: number }): Promise<number> {
  const params = { AppId: key.app, RoomId: key.room, TaskId: key.task };
  const seen = new Set<string>();
  const tty = process.stderr.isTTY && !asJson;
  const deadline = o.timeoutS ? Date.now() + o.timeoutS * 1000 : Infinity;
  let progressShown = false;
  let lastProgress = 0;
  let unreachableSince: number | undefined;
  let toldUnreachable = false;
  const clearProgress = (): void => {
    if (progressShown && tty) process.stderr.write('\r\x1b[K');
    progressShown = false;
  };
  for (;;) {
    // One call a tick: the events come with the task's status.
    let answer: { WebCastTask: TaskView; Events: EventView[]; PlaceInLine?: number };
    try {
      answer = (await callApi(conn, 'ListWebcastTaskEvents', 'GET', params)) as typeof answer;
    } catch (err) {
      // A restart of the service is no reason to stop watching; a service gone for good is.
      if (!(err instanceof UnreachableError)) throw err;
      unreachableSince ??= Date.now();
      if (Date.now() - unreachableSince > UNREACHABLE_GRACE_MS) throw err;
      if (!toldUnreachable) {
        clearProgress();
        process.stderr.write(`webcast: ${err.message}; trying again for up to ${UNREACHABLE_GRACE_MS / 1000} s\n`);
        toldUnreachable = true;
      }
      await new Promise((r) => setTimeout(r, o.intervalMs ?? 1000));
      continue;
    }
    if (toldUnreachable) process.stderr.write('webcast: the service answers again\n');
    unreachableSince = undefined;
    toldUnreachable = false;
    const { WebCastTask: task, Events: events, PlaceInLine: place } = answer;
    for (const e of events) {
      if (seen.has(e.EventId)) continue;
      seen.add(e.EventId);
      clearProgress();
      if (asJson) json({ type: 'event', ...e });
      else out(formatEvent(e));
    }
    if (task.Status === 3 || task.Status === 4) {
      clearProgress();
      const why = failureDetail(events);
      if (asJson) json({ type: 'end', Status: task.Status, StopReason: task.StopReason, EndTime: task.EndTime, ...(why ? { FailureDetail: why } : {}) });
      else out(`task ${key.task} ${statusText(task.Status)}: ${task.StopReason || 'no reason given'}${why ? ` (${why})` : ''}`);
      return task.Status === 4 ? ExitCode.TaskFailed : ExitCode.Ok;
    }
    if (task.Status === 1 && !asJson) {
      const waited = ((Date.now() - task.StartTime) / 1000).toFixed(1);
      // MaxRunningTime counts from the Start, waiting included: say so while it waits. Rounded
      // down, as a countdown is: 3599.5 s left is 59 min, not 1 h 0 min.
      const left = Math.max(0, Math.floor((task.StartTime + task.MaxRunningTime * 1000 - Date.now()) / 1000));
      const line = place
        ? `waiting for a free slot: ${ordinal(place)} in line, ${waited} s so far; MaxRunningTime runs meanwhile (${duration(left)} left)`
        : `waiting for the first frame… ${waited} s`;
      // On a terminal one line is rewritten; in a log, a line every 5 s is enough.
      if (tty) {
        process.stderr.write(`\r\x1b[K${line}`);
        progressShown = true;
      } else if (Date.now() - lastProgress >= 5000) {
        process.stderr.write(`${line}\n`);
        lastProgress = Date.now();
      }
    }
    if (Date.now() > deadline) {
      clearProgress();
      process.stderr.write(`webcast: task ${key.task} still ${statusText(task.Status)} after ${o.timeoutS} s\n`);
      return ExitCode.Unreachable;
    }
    await new Promise((r) => setTimeout(r, o.intervalMs ?? 1000));
  }
}

export async function run(argv: string[]): Promise<number> {
  const cli = program();
  try {
    await cli.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.Ok;
  } catch (err) {
    const asJson = argv.includes('--json');
    if (err instanceof CommanderError) {
      // Help and --version are not failures; everything else commander refuses is a usage error.
      return err.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
    }
    if (err instanceof ApiCallError) {
      if (asJson) json({ Error: { Code: err.code, Message: err.message, RequestId: err.requestId } });
      process.stderr.write(`webcast: ${err.code}: ${err.message}${err.requestId ? ` (RequestId ${err.requestId})` : ''}\n`);
      return ExitCode.ApiError;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`webcast: ${err.message}\n`);
      return ExitCode.Usage;
    }
    if (err instanceof UnreachableError) {
      process.stderr.write(`webcast: ${err.message}\n`);
      return ExitCode.Unreachable;
    }
    throw err;
  }
}
