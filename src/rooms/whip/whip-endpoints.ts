import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** Where an AppId's pages are published over WHIP, and the bearer token that endpoint wants. `*` serves every AppId. */
export interface WhipEndpoint {
  appId: string;
  /** A URL template: {AppId}, {RoomId}, {UserId} and {TaskId} are filled in, each URL-encoded. */
  url: string;
  token?: string | undefined;
}

export const WHIP_PLACEHOLDERS = ['AppId', 'RoomId', 'UserId', 'TaskId'] as const;
export type WhipFields = Record<(typeof WHIP_PLACEHOLDERS)[number], string>;

/** Checks a template: an http(s) URL once its placeholders are filled, and no placeholder we do not know. */
export function checkWhipTemplate(template: string, where: string): string {
  const unknown = [...template.matchAll(/\{([^}]*)\}/g)].map((m) => m[1] ?? '').filter((name) => !(WHIP_PLACEHOLDERS as readonly string[]).includes(name));
  if (unknown.length > 0) throw new Error(`${where}: unknown placeholder {${unknown[0] ?? ''}} (known: ${WHIP_PLACEHOLDERS.map((p) => `{${p}}`).join(', ')})`);
  let url: URL;
  try {
    url = new URL(fillWhipTemplate(template, { AppId: 'a', RoomId: 'r', UserId: 'u', TaskId: 't' }));
  } catch {
    throw new Error(`${where} must be a URL, as https://sfu.example.com/whip/{RoomId}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`${where} must be an http(s) URL, got ${url.protocol}//`);
  return template;
}

/**
 * The endpoint URL for one publisher. Each value is URL-encoded, so a RoomId such as `../x` or
 * `a?b` stays one path segment and cannot reach another resource of the endpoint.
 */
export function fillWhipTemplate(template: string, fields: WhipFields): string {
  return template.replace(/\{(AppId|RoomId|UserId|TaskId)\}/g, (_, name: keyof WhipFields) => encodeURIComponent(fields[name]));
}

const fileSchema = z.object({
  whip: z.array(z.object({ appId: z.string().min(1), url: z.string().min(1), token: z.string().min(1).optional() })),
});

export class WhipEndpoints {
  private readonly byApp: ReadonlyMap<string, WhipEndpoint>;

  constructor(endpoints: readonly WhipEndpoint[]) {
    this.byApp = new Map(endpoints.map((e) => [e.appId, e]));
  }

  /** From WEBCAST_WHIP_FILE (per AppId) and WEBCAST_WHIP_URL / WEBCAST_WHIP_TOKEN (every other AppId). */
  static load(o: { file?: string | undefined; url?: string | undefined; token?: string | undefined }): WhipEndpoints {
    const list: WhipEndpoint[] = [];
    if (o.file) {
      let raw: unknown;
      try {
        raw = JSON.parse(readFileSync(o.file, 'utf8'));
      } catch (err) {
        throw new Error(`cannot read the WHIP file ${o.file}: ${(err as Error).message}`);
      }
      const parsed = fileSchema.safeParse(raw);
      if (!parsed.success) throw new Error(`WHIP file ${o.file}: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
      for (const [i, e] of parsed.data.whip.entries()) list.push({ ...e, url: checkWhipTemplate(e.url, `WHIP file ${o.file}: whip.${i}.url`) });
    }
    if (o.url) list.push({ appId: '*', url: checkWhipTemplate(o.url, 'WEBCAST_WHIP_URL'), token: o.token });
    if (list.length === 0) throw new Error('WEBCAST_ROOM_BACKEND=whip needs WEBCAST_WHIP_URL or WEBCAST_WHIP_FILE');
    return new WhipEndpoints(list);
  }

  for(appId: string): WhipEndpoint | undefined {
    return this.byApp.get(appId) ?? this.byApp.get('*');
  }
}
