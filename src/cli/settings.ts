import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import type { Connection } from './client.js';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface ConnectionFlags {
  endpoint?: string;
  accessKey?: string;
  secretKey?: string;
  config?: string;
  apiVersion?: string;
}

const DEFAULT_ENDPOINT = 'http://127.0.0.1:8080';
const fileSchema = z.object({ endpoint: z.string().optional(), accessKey: z.string().optional(), secretKey: z.string().optional(), region: z.string().optional() });
/** The region requests are signed for; the service's WEBCAST_REGION. */
const DEFAULT_REGION = 'cn-north-1';

export function defaultConfigFile(env: NodeJS.ProcessEnv): string {
  return path.join(env.XDG_CONFIG_HOME || path.join(homedir(), '.config'), 'webcast', 'cli.json');
}

function readJson(file: string, what: string): z.infer<typeof fileSchema> {
  try {
    return fileSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
  } catch (err) {
    throw new UsageError(`cannot read ${what} ${file}: ${err instanceof z.ZodError ? 'expected {"endpoint", "accessKey", "secretKey"} strings' : (err as Error).message}`);
  }
}

/**
 * Each setting from the first place that has it: flags, then WEBCAST_* environment, then the
 * config file, then the key a local service generated in ./data (the quick start's setup).
 */
export function resolveConnection(flags: ConnectionFlags, env: NodeJS.ProcessEnv, cwd: string): Connection {
  const explicitFile = flags.config ?? (env.WEBCAST_CLI_CONFIG || undefined);
  const configFile = explicitFile ?? defaultConfigFile(env);
  if (explicitFile && !existsSync(explicitFile)) throw new UsageError(`the config file ${explicitFile} does not exist`);
  const fromFile = existsSync(configFile) ? readJson(configFile, 'the config file') : {};
  const generated = path.join(cwd, 'data', 'credentials.json');
  const fromData = existsSync(generated) ? readJson(generated, 'the generated key') : {};

  const endpoint = flags.endpoint ?? (env.WEBCAST_ENDPOINT || undefined) ?? fromFile.endpoint ?? DEFAULT_ENDPOINT;
  let accessKey = flags.accessKey ?? (env.WEBCAST_ACCESS_KEY || undefined) ?? fromFile.accessKey;
  let secretKey = flags.secretKey ?? (env.WEBCAST_SECRET_KEY || undefined) ?? fromFile.secretKey;
  if (!accessKey && !secretKey) {
    accessKey = fromData.accessKey;
    secretKey = fromData.secretKey;
  }
  if (!accessKey || !secretKey) {
    throw new UsageError(
      `no ${accessKey ? 'secret key' : 'access key'}: set WEBCAST_ACCESS_KEY and WEBCAST_SECRET_KEY, pass --access-key and --secret-key, or write them to ${configFile}`,
    );
  }
  const region = (env.WEBCAST_REGION || undefined) ?? fromFile.region ?? DEFAULT_REGION;
  return { endpoint, accessKey, secretKey, region, version: flags.apiVersion ?? '2020-12-01' };
}
