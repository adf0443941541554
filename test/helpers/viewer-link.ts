import { WhepPlayer, type VideoReceived } from './subscriber.js';

/**
 * A viewer link's token for a room, made as a signed-in user makes one in the console: what a
 * WHEP player needs to watch the room.
 */
export async function viewerToken(baseUrl: string, keys: { accessKey: string; secretKey: string }, appId: string, roomId: string): Promise<string> {
  const headers = { 'x-webcast-console': '1', 'content-type': 'application/json' };
  const session = await fetch(`${baseUrl}/console/api/session`, { method: 'POST', headers, body: JSON.stringify({ AccessKey: keys.accessKey, SecretKey: keys.secretKey }) });
  if (!session.ok) throw new Error(`console sign-in: HTTP ${session.status}`);
  const cookie = (session.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  const share = await fetch(`${baseUrl}/console/api/rooms/${appId}/${roomId}/share`, { method: 'POST', headers: { ...headers, cookie }, body: JSON.stringify({ TtlSeconds: 600 }) });
  const link = ((await share.json()) as { Result?: { Path?: string } }).Result?.Path;
  if (!link) throw new Error(`no viewer link for ${appId}/${roomId}: HTTP ${share.status}`);
  return link.slice(link.indexOf('#') + 1);
}

/**
 * What a WHEP player of the task's room decodes of the publisher `userId` once it has 20 frames
 * of the big layer's `width`, through a viewer link made with `keys`.
 */
export async function decodedByViewer(host: string, keys: { accessKey: string; secretKey: string }, room: { AppId: string; RoomId: string }, userId: string, width: number): Promise<VideoReceived> {
  const base = `http://${host}`;
  const player = await WhepPlayer.play(`${base}/whep/${room.AppId}/${room.RoomId}/${userId}`, await viewerToken(base, keys, room.AppId, room.RoomId));
  try {
    return await player.waitForVideo((v) => v.framesDecoded >= 20 && v.width === width, 30_000);
  } finally {
    await player.close();
  }
}
