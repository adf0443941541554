import { useState } from 'preact/hooks';
import { ApiFailure, call, enc } from '../api';
import { Viewer } from './Viewer';

export function RoomPage({ app, room, user }: { app: string; room: string; user?: string | undefined }) {
  const [link, setLink] = useState<{ url: string; expiresAt: number } | undefined>();
  const [hours, setHours] = useState('1');
  const [error, setError] = useState('');
  const [copied, setCopied] = useState(false);
  const copy = async (url: string) => {
    try {
      await navigator.clipboard.writeText(url);
      setCopied(true);
      setTimeout(() => setCopied(false), 2000);
    } catch {
      // No clipboard (plain http to a remote host): the field is selected for Ctrl-C instead.
      (document.querySelector('[data-testid=share-url]') as HTMLInputElement | null)?.select();
    }
  };
  const share = async () => {
    setError('');
    try {
      const result = await call<{ Path: string; ExpiresAt: number }>('POST', `/rooms/${enc(app)}/${enc(room)}/share`, { TtlSeconds: Math.round(Number(hours) * 3600) });
      setLink({ url: new URL(result.Path, location.origin).toString(), expiresAt: result.ExpiresAt });
    } catch (err) {
      setError(err instanceof ApiFailure ? `${err.code}: ${err.message}` : String(err));
    }
  };
  return (
    <section>
      <h1>Room {room} <span class="muted">({app})</span></h1>
      <Viewer app={app} room={room} user={user} />
      <div class="card share">
        <h2>Share this room</h2>
        <p class="muted">A link that lets anyone watch this room, and nothing else, until it expires.</p>
        <label class="inline">Valid for
          <select value={hours} onChange={(e) => setHours(e.currentTarget.value)}>
            <option value="1">1 hour</option>
            <option value="8">8 hours</option>
            <option value="24">1 day</option>
            <option value="168">7 days</option>
          </select>
        </label>{' '}
        <button onClick={share} data-testid="share">Make a viewer link</button>
        {error && <p class="error">{error}</p>}
        {link && (
          <div>
            <div class="copy-row">
              <input class="wide" readOnly value={link.url} data-testid="share-url" onFocus={(e) => e.currentTarget.select()} />
              <button class="secondary" onClick={() => copy(link.url)} data-testid="copy">{copied ? 'Copied' : 'Copy'}</button>
            </div>
            <p class="muted">Valid until {new Date(link.expiresAt).toLocaleString()}.</p>
          </div>
        )}
      </div>
    </section>
  );
}
