/**
 * Calls the OpenAPI with a signed request, as a customer's backend would.
 *   npx tsx scripts/call.ts StartWebcast '{"AppId":"demo","RoomId":"room1","TaskId":"t1","UserId":"bot","SourceURL":"https://example.com"}'
 *   npx tsx scripts/call.ts GetWebCastTask AppId=demo RoomId=room1 TaskId=t1
 *   npx tsx scripts/call.ts StopWebcast '{"AppId":"demo","RoomId":"room1","TaskId":"t1"}'
 * Endpoint and keys come from WEBCAST_ENDPOINT, WEBCAST_ACCESS_KEY and WEBCAST_SECRET_KEY.
 */
import { signRequest } from '../src/api/signature.js';

const [action, ...args] = process.argv.slice(2);
const endpoint = process.env.WEBCAST_ENDPOINT ?? 'http://127.0.0.1:8080';
const accessKey = process.env.WEBCAST_ACCESS_KEY;
const secretKey = process.env.WEBCAST_SECRET_KEY;
if (!action || !accessKey || !secretKey) {
  process.stderr.write('usage: WEBCAST_ACCESS_KEY=… WEBCAST_SECRET_KEY=… npx tsx scripts/call.ts <Action> [JSON body | Name=Value …]\n');
  process.exit(2);
}

const isGet = /^get/i.test(action);
const url = new URL(endpoint);
url.searchParams.set('Action', action);
url.searchParams.set('Version', '2020-12-01');
let body: string | undefined;
if (isGet) for (const arg of args) url.searchParams.set(arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1));
else body = args[0] ?? '';

const method = isGet ? 'GET' : 'POST';
const headers = signRequest({ method, url, body, accessKey, secretKey, headers: isGet ? {} : { 'Content-Type': 'application/json' } });
const res = await fetch(url, { method, headers, body });
process.stdout.write(`HTTP ${res.status}\n${JSON.stringify(await res.json(), null, 2)}\n`);
process.exit(res.ok ? 0 : 1);
