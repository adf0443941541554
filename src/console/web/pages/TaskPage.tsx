import { useEffect, useState } from 'preact/hooks';
import { ApiFailure, call, enc, type Task, type TaskEvent } from '../api';
import { href } from '../router';
import { clock, duration } from '../time';
import { usePolling } from '../usePolling';
import { StatusBadge } from './TaskList';

const EVENT_TEXT: Record<string, string> = {
  WebcastFirstFrame: 'First frame published',
  WebcastEnd: 'Ended',
  WebcastStartEvent: 'Page called onWebcastStart()',
  WebcastRefresh: 'Page refreshed',
  WebcastReschedule: 'Rescheduled in a fresh browser context',
  WebcastWaiting: 'Waiting for a free slot',
};

export function TaskPage({ app, room, task, media }: { app: string; room: string; task: string; media: boolean }) {
  const path = `/tasks/${enc(app)}/${enc(room)}/${enc(task)}`;
  const { data, error } = usePolling(() => call<{ WebCastTask: Task; Events: TaskEvent[]; PlaceInLine?: number; Node?: string }>('GET', path), 2000, [path]);
  const [stopError, setStopError] = useState('');
  const [stopping, setStopping] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const t = data?.WebCastTask;
  const stop = async () => {
    setStopping(true);
    setStopError('');
    try {
      await call('POST', `${path}/stop`);
    } catch (err) {
      setStopError(err instanceof ApiFailure ? `${err.code}: ${err.message}` : String(err));
    } finally {
      setStopping(false);
    }
  };
  if (!t) return <section>{error ? <p class="error">{error}</p> : <p class="muted">Loading…</p>}</section>;
  const active = t.Status === 1 || t.Status === 2;
  // GetWebCastTask keeps the vendor's shape; why a task failed travels in its WebcastEnd event.
  const why = data?.Events.find((e) => e.EventType === 'WebcastEnd' && typeof e.EventData.FailureDetail === 'string')?.EventData.FailureDetail;
  return (
    <section>
      <div class="title-row">
        <h1>{t.TaskId} <StatusBadge status={t.Status} reason={t.StopReason} /></h1>
        <div>
          <a class="button secondary" href={href.room(t.AppId, t.RoomId, t.UserId)}>Watch the room</a>{' '}
          {active && !confirming && <button class="danger" onClick={() => setConfirming(true)} disabled={stopping} data-testid="stop">Stop</button>}
          {active && confirming && (
            <span class="confirm" data-testid="stop-confirm">
              <span>Take it off air for good?</span>
              <button class="danger" onClick={() => { setConfirming(false); void stop(); }} disabled={stopping} data-testid="stop-yes">Stop now</button>
              <button class="secondary" onClick={() => setConfirming(false)}>Cancel</button>
            </span>
          )}
        </div>
      </div>
      {typeof why === 'string' && <p class="error" data-testid="failure-detail"><b>Why it failed:</b> {why}</p>}
      {stopError && <p class="error">{stopError}</p>}
      {error && <p class="error">{error}</p>}
      <div class="columns">
        <div class="card">
          <h2>Settings</h2>
          <dl class="settings">
            <dt>App / Room</dt><dd>{t.AppId} / <a href={href.room(t.AppId, t.RoomId)}>{t.RoomId}</a></dd>
            <dt>User</dt><dd>{t.UserId}</dd>
            <dt>Source</dt><dd class="url">{t.SourceURL}</dd>
            {t.BusinessId && <><dt>Business</dt><dd>{t.BusinessId}</dd></>}
            <dt>Started</dt><dd>{clock(t.StartTime)}</dd>
            {data?.Node && <><dt>Node</dt><dd data-testid="node">{data.Node}</dd></>}
            <dt>Ended</dt><dd>{t.EndTime ? `${clock(t.EndTime)} (after ${duration(t.EndTime - t.StartTime)})` : '–'}</dd>
            <dt>Layers</dt><dd>{t.VideoSolutions.map((v) => `${v.Width}×${v.Height} @ ${v.FrameRate} fps, ${v.Bitrate ? `${v.Bitrate} kbps` : 'adaptive'}`).join(' · ')}</dd>
            <dt>Max running</dt><dd>{duration(t.MaxRunningTime * 1000)}</dd>
            <dt>Monitors</dt><dd>{monitors(t)}</dd>
            <dt>Event notify</dt><dd>{t.EventNotifyConfig.EnableEventNotify ? `on, start timeout ${t.EventNotifyConfig.StartTimeout || 'default'} s` : 'off'}</dd>
          </dl>
        </div>
        <div class="card">
          <h2>Now</h2>
          {t.Status === 2 && media ? <Thumbnail path={path} /> : data?.PlaceInLine ? (
            <p data-testid="place-in-line">
              Waiting for a free slot: <b>#{data.PlaceInLine}</b> in line. Its MaxRunningTime runs while it waits: it ends at {clock(t.StartTime + t.MaxRunningTime * 1000)} at the latest.
            </p>
          ) : <p class="muted">{t.Status === 1 ? 'Waiting for the first frame…' : 'Not on air.'}</p>}
        </div>
      </div>
      <div class="card">
        <h2>Timeline</h2>
        <ol class="timeline" data-testid="timeline">
          <li><time>{clock(t.StartTime)}</time><b>Accepted</b></li>
          {(data?.Events ?? []).map((e) => (
            <li key={e.EventId} data-event={e.EventType}>
              <time>{new Date(e.EventTime).toLocaleString()}</time>
              <b>{EVENT_TEXT[e.EventType] ?? e.EventType}</b>
              {typeof e.EventData.StopReason === 'string' && e.EventData.StopReason && <span> · {e.EventData.StopReason}</span>}
              {typeof e.EventData.Reason === 'string' && e.EventData.Reason && <span> · {e.EventData.Reason}</span>}
              {typeof e.EventData.Position === 'number' && <span> · #{e.EventData.Position} in line</span>}
              <span class={`delivery ${e.Delivery.State}`} title={e.Delivery.LastError}>
                callback {e.Delivery.State}{e.Delivery.Attempts > 1 ? ` after ${e.Delivery.Attempts} tries` : ''}{e.Delivery.LastError ? `: ${e.Delivery.LastError}` : ''}
              </span>
            </li>
          ))}
        </ol>
      </div>
    </section>
  );
}

function monitors(t: Task): string {
  const m = t.MonitorConfig;
  const on = [['blank', m.BlankCheckInterval], ['freeze', m.FreezeCheckInterval], ['crash', m.CrashCheckInterval]].filter(([, v]) => Number(v) > 0);
  return on.length ? on.map(([k, v]) => `${k} every ${v} s`).join(', ') : 'off';
}

/** A fresh picture of the published page every 3 s. */
function Thumbnail({ path }: { path: string }) {
  const [n, setN] = useState(0);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    const timer = setInterval(() => setN((x) => x + 1), 3000);
    return () => clearInterval(timer);
  }, []);
  return (
    <>
      {failed && <p class="muted">No picture right now.</p>}
      <img class="thumb" hidden={failed} data-testid="thumbnail" alt="the page as published" src={`/console/api${path}/thumbnail?width=480&n=${n}`} onError={() => setFailed(true)} onLoad={() => setFailed(false)} />
    </>
  );
}
