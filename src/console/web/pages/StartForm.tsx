import { useState } from 'preact/hooks';
import { ApiFailure, call, type Session, type Task } from '../api';
import { href } from '../router';

const ID = '[a-zA-Z0-9_@.\\-]{1,128}';
const ID_TITLE = '1 to 128 characters of a-z, A-Z, 0-9, _ @ - .';

interface Layer {
  Width: string;
  Height: string;
  FrameRate: string;
  Bitrate: string;
}

const num = (v: string): number | undefined => (v.trim() === '' ? undefined : Number(v));

/** Every StartWebcast field; the browser checks ranges, the service checks everything and says what is wrong. */
export function StartForm({ session }: { session: Session }) {
  const defaultApp = session.AppIds.includes('*') ? '' : (session.AppIds[0] ?? '');
  const [f, setF] = useState({
    AppId: defaultApp,
    RoomId: '',
    TaskId: `task-${Date.now().toString(36)}`,
    UserId: 'webcast-bot',
    SourceURL: 'https://',
    BusinessId: '',
    MaxRunningTime: '',
    BlankCheckInterval: '',
    FreezeCheckInterval: '',
    CrashCheckInterval: '',
    EnableEventNotify: false,
    StartTimeout: '',
  });
  const [layers, setLayers] = useState<Layer[]>([{ Width: '1280', Height: '720', FrameRate: '15', Bitrate: '' }]);
  const [error, setError] = useState<{ code: string; message: string } | undefined>();
  const [busy, setBusy] = useState(false);
  // Updates build on the latest state, not on this render's: autofill (or a fast test) can fire
  // several inputs before the next render, and each would otherwise undo the one before.
  const set = (k: keyof typeof f) => (e: Event) => {
    const input = e.currentTarget as HTMLInputElement;
    const value = input.type === 'checkbox' ? input.checked : input.value;
    setF((prev) => ({ ...prev, [k]: value }));
    // The service's answer was about the form as it was; once edited it may no longer hold.
    setError(undefined);
  };
  const setLayer = (i: number, k: keyof Layer) => (e: Event) => {
    const value = (e.currentTarget as HTMLInputElement).value;
    setLayers((prev) => prev.map((l, j) => (j === i ? { ...l, [k]: value } : l)));
    setError(undefined);
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    const body = {
      AppId: f.AppId.trim(),
      RoomId: f.RoomId.trim(),
      TaskId: f.TaskId.trim(),
      UserId: f.UserId.trim(),
      SourceURL: f.SourceURL.trim(),
      BusinessId: f.BusinessId.trim() || undefined,
      MaxRunningTime: num(f.MaxRunningTime),
      VideoSolutions: layers.map((l) => ({ Width: num(l.Width), Height: num(l.Height), FrameRate: num(l.FrameRate), Bitrate: num(l.Bitrate) })),
      MonitorConfig: { BlankCheckInterval: num(f.BlankCheckInterval), FreezeCheckInterval: num(f.FreezeCheckInterval), CrashCheckInterval: num(f.CrashCheckInterval) },
      EventNotifyConfig: { EnableEventNotify: f.EnableEventNotify, StartTimeout: num(f.StartTimeout) },
    };
    try {
      const result = await call<{ Started: boolean; WebCastTask: Task }>('POST', '/tasks', body);
      location.hash = href.task(result.WebCastTask.AppId, result.WebCastTask.RoomId, result.WebCastTask.TaskId);
    } catch (err) {
      setError(err instanceof ApiFailure ? { code: err.code, message: err.message } : { code: 'Error', message: String(err) });
    } finally {
      setBusy(false);
    }
  };

  return (
    <section>
      <h1>Start a webcast</h1>
      <form class="card start" onSubmit={submit} data-testid="start-form">
        <fieldset>
          <legend>Where</legend>
          <label>AppId<input name="AppId" required pattern={ID} title={ID_TITLE} value={f.AppId} onInput={set('AppId')} /></label>
          <label>RoomId<input name="RoomId" required pattern={ID} title={ID_TITLE} value={f.RoomId} onInput={set('RoomId')} /></label>
          <label>TaskId<input name="TaskId" required pattern={ID} title={ID_TITLE} value={f.TaskId} onInput={set('TaskId')} /></label>
          <label>UserId<input name="UserId" required pattern={ID} title={ID_TITLE} value={f.UserId} onInput={set('UserId')} /></label>
        </fieldset>
        <fieldset>
          <legend>What</legend>
          <label class="wide">SourceURL<input name="SourceURL" type="url" required maxLength={1024} value={f.SourceURL} onInput={set('SourceURL')} /></label>
          <label>BusinessId<input name="BusinessId" maxLength={128} value={f.BusinessId} onInput={set('BusinessId')} /></label>
          <label>MaxRunningTime (s)<input name="MaxRunningTime" type="number" min={10} max={86400} placeholder="86400" value={f.MaxRunningTime} onInput={set('MaxRunningTime')} /></label>
        </fieldset>
        <fieldset>
          <legend>Video layers</legend>
          {layers.map((l, i) => (
            <div class="layer" key={i} data-testid={`layer-${i}`}>
              <span class="muted">{i === 0 ? 'First' : 'Second'}</span>
              <label>Width<input name={`Width${i}`} type="number" min={50} max={1920} value={l.Width} onInput={setLayer(i, 'Width')} /></label>
              <label>Height<input name={`Height${i}`} type="number" min={50} max={1080} value={l.Height} onInput={setLayer(i, 'Height')} /></label>
              <label>FrameRate<input name={`FrameRate${i}`} type="number" min={1} max={60} value={l.FrameRate} onInput={setLayer(i, 'FrameRate')} /></label>
              <label>Bitrate (kbps)<input name={`Bitrate${i}`} type="number" min={0} max={10000} placeholder="adaptive" value={l.Bitrate} onInput={setLayer(i, 'Bitrate')} /></label>
            </div>
          ))}
          {layers.length === 1 ? (
            <button type="button" class="link" onClick={() => setLayers((prev) => [...prev, { Width: '640', Height: '360', FrameRate: '15', Bitrate: '' }])}>+ a second simulcast layer</button>
          ) : (
            <button type="button" class="link" onClick={() => setLayers((prev) => prev.slice(0, 1))}>− one layer only</button>
          )}
        </fieldset>
        <fieldset>
          <legend>Page monitors (seconds; empty = off)</legend>
          <label>Blank check<input name="BlankCheckInterval" type="number" min={0} max={30} value={f.BlankCheckInterval} onInput={set('BlankCheckInterval')} /></label>
          <label>Freeze check<input name="FreezeCheckInterval" type="number" min={0} max={30} value={f.FreezeCheckInterval} onInput={set('FreezeCheckInterval')} /></label>
          <label>Crash check<input name="CrashCheckInterval" type="number" min={0} max={30} value={f.CrashCheckInterval} onInput={set('CrashCheckInterval')} /></label>
        </fieldset>
        <fieldset>
          <legend>Event notify</legend>
          <label class="check"><input name="EnableEventNotify" type="checkbox" checked={f.EnableEventNotify} onChange={set('EnableEventNotify')} />Wait for the page to call onWebcastStart()</label>
          <label>StartTimeout (s)<input name="StartTimeout" type="number" min={0} max={60} disabled={!f.EnableEventNotify} value={f.StartTimeout} onInput={set('StartTimeout')} /></label>
        </fieldset>
        {error && <p class="error" data-testid="error"><b>{error.code}</b>: {error.message}</p>}
        <button type="submit" disabled={busy}>Start</button>
      </form>
    </section>
  );
}
