import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** Where each AppId's callbacks go, and the secret that signs them. `*` serves every AppId. */
export interface CallbackEndpoint {
  appId: string;
  url: string;
  secret: string;
}

const fileSchema = z.object({
  callbacks: z.array(z.object({ appId: z.string().min(1), url: z.url({ protocol: /^https?$/ }), secret: z.string().min(1) })),
});

export class CallbackEndpoints {
  private readonly byApp: ReadonlyMap<string, CallbackEndpoint>;

  constructor(endpoints: readonly CallbackEndpoint[]) {
    this.byApp = new Map(endpoints.map((e) => [e.appId, e]));
  }

  static load(o: { file?: string | undefined; url?: string | undefined; secret?: string | undefined }): CallbackEndpoints {
    const list: CallbackEndpoint[] = [];
    if (o.file) {
      const parsed = fileSchema.safeParse(JSON.parse(readFileSync(o.file, 'utf8')));
      if (!parsed.success) throw new Error(`callbacks file ${o.file}: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
      list.push(...parsed.data.callbacks);
    }
    if (o.url) {
      if (!o.secret) throw new Error('WEBCAST_CALLBACK_URL needs WEBCAST_CALLBACK_SECRET');
      list.push({ appId: '*', url: o.url, secret: o.secret });
    }
    return new CallbackEndpoints(list);
  }

  for(appId: string): CallbackEndpoint | undefined {
    return this.byApp.get(appId) ?? this.byApp.get('*');
  }
}
