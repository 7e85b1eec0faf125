/**
 * `npm run sign -- <action> <clientId> [cid] [members...]`: prints the signature object an
 * application server hands to its client (docs/protocol.md §12), using IM_APP_ID and IM_MASTER_KEY.
 *
 *   npm run sign -- open Tom
 *   npm run sign -- create Tom Bob Alex
 *   npm run sign -- join Tom <cid>
 *   npm run sign -- invite Tom <cid> Bob Alex      (kick likewise)
 */
import { signAction, type SignedAction } from '../lambdas/domain/signatures';

const ACTIONS = ['open', 'create', 'join', 'invite', 'kick'] as const;

function fail(message: string): never {
  process.stderr.write(`${message}\nusage: npm run sign -- <${ACTIONS.join('|')}> <clientId> [cid] [members...]\n`);
  process.exit(2);
}

const [action, clientId, ...rest] = process.argv.slice(2);
if (!action || !(ACTIONS as readonly string[]).includes(action)) fail(`unknown action: ${action ?? '(none)'}`);
if (!clientId) fail('missing clientId');
const masterKey = process.env.IM_MASTER_KEY;
if (!masterKey) fail('IM_MASTER_KEY is not set');
const withCid = action === 'join' || action === 'invite' || action === 'kick';
const cid = withCid ? rest[0] : undefined;
if (withCid && !cid) fail(`${action} needs a cid`);
const members = action === 'create' ? rest : action === 'invite' || action === 'kick' ? rest.slice(1) : [];

const signature = signAction(action as SignedAction, { appId: process.env.IM_APP_ID || 'local-app', masterKey, clientId, cid, members });
process.stdout.write(JSON.stringify(signature) + '\n');
