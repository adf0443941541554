import { useEffect, useState } from 'preact/hooks';

/** Hash routes, so the service serves one page and a reload keeps the place. */
export type Route =
  | { page: 'tasks' }
  | { page: 'start' }
  | { page: 'nodes' }
  | { page: 'task'; app: string; room: string; task: string }
  | { page: 'room'; app: string; room: string; user?: string };

export function parseRoute(hash: string): Route {
  const [path = '', query = ''] = hash.replace(/^#/, '').split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'start') return { page: 'start' };
  if (parts[0] === 'nodes') return { page: 'nodes' };
  if (parts[0] === 'tasks' && parts.length === 4) return { page: 'task', app: parts[1] ?? '', room: parts[2] ?? '', task: parts[3] ?? '' };
  if (parts[0] === 'rooms' && parts.length === 3) {
    const user = new URLSearchParams(query).get('user') ?? undefined;
    return { page: 'room', app: parts[1] ?? '', room: parts[2] ?? '', ...(user ? { user } : {}) };
  }
  return { page: 'tasks' };
}

export const href = {
  tasks: () => '#/',
  start: () => '#/start',
  nodes: () => '#/nodes',
  task: (app: string, room: string, task: string) => `#/tasks/${[app, room, task].map(encodeURIComponent).join('/')}`,
  room: (app: string, room: string, user?: string) => `#/rooms/${[app, room].map(encodeURIComponent).join('/')}${user ? `?user=${encodeURIComponent(user)}` : ''}`,
};

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
