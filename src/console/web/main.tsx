import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { call, onSessionLost, useViewerToken, type Session } from './api';
import { href, useRoute } from './router';
import { SignIn } from './pages/SignIn';
import { TaskList } from './pages/TaskList';
import { StartForm } from './pages/StartForm';
import { TaskPage } from './pages/TaskPage';
import { RoomPage } from './pages/RoomPage';
import { NodeList } from './pages/NodeList';
import { Viewer } from './pages/Viewer';
import './style.css';

function Console() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const route = useRoute();
  useEffect(() => {
    call<Session>('GET', '/session').then(setSession, () => setSession(null));
  }, []);
  // Any call that finds the session gone sends the user back to sign in.
  useEffect(() => onSessionLost(() => setSession(null)), []);
  if (session === undefined) return <main class="center muted">Loading…</main>;
  if (session === null) return <SignIn onSignedIn={setSession} />;
  const signOut = async () => {
    await call('DELETE', '/session').catch(() => undefined);
    setSession(null);
  };
  return (
    <>
      <header class="bar">
        <a class="brand" href={href.tasks()}>webcast</a>
        <nav>
          <a href={href.tasks()} class={route.page === 'tasks' ? 'on' : ''}>Tasks</a>
          <a href={href.start()} class={route.page === 'start' ? 'on' : ''}>Start a webcast</a>
          {session.AppIds.includes('*') && <a href={href.nodes()} class={route.page === 'nodes' ? 'on' : ''}>Nodes</a>}
        </nav>
        <span class="who" data-testid="who">{session.AccessKey}</span>
        <button class="link" onClick={signOut}>Sign out</button>
      </header>
      <main>
        {route.page === 'tasks' && <TaskList session={session} />}
        {route.page === 'start' && <StartForm session={session} />}
        {route.page === 'task' && <TaskPage app={route.app} room={route.room} task={route.task} media={session.Media !== false} />}
        {route.page === 'room' && <RoomPage app={route.app} room={route.room} user={route.user} />}
        {route.page === 'nodes' && <NodeList />}
      </main>
    </>
  );
}

/** /view#<token>: one room's viewer for someone without an account. */
function SharedView() {
  const token = location.hash.slice(1);
  let room: { a: string; r: string; exp: number } | undefined;
  try {
    const payload = (token.split('.')[0] ?? '').replace(/-/g, '+').replace(/_/g, '/');
    room = JSON.parse(atob(payload.padEnd(Math.ceil(payload.length / 4) * 4, '='))) as { a: string; r: string; exp: number };
  } catch {
    room = undefined;
  }
  if (!room) return <main class="center"><p class="error" data-testid="error">This viewer link is incomplete.</p></main>;
  useViewerToken(token);
  return (
    <main>
      <h1>Room {room.r} <span class="muted">({room.a})</span></h1>
      <p class="muted">Shared view, valid until {new Date(room.exp).toLocaleString()}.</p>
      <Viewer app={room.a} room={room.r} />
    </main>
  );
}

const root = document.getElementById('app');
const shared = location.pathname.startsWith('/view');
// A pasted link that differs only after the # does not load the page again; make it.
if (shared) addEventListener('hashchange', () => location.reload());
if (root) render(shared ? <SharedView /> : <Console />, root);
