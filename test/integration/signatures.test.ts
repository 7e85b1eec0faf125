/** Signatures for open and create when IM_SIGNATURE_REQUIRED=true (docs/protocol.md §12). */
import { sign, signedString } from '../../lambdas/domain/signatures';
import { TestClient } from '../helpers/client';
import { useStack } from '../helpers/stack';

const KEY = 'test-master-key';
const APP = 'sig-app';
const h = useStack({ env: { IM_LOG_LEVEL: 'silent', IM_SIGNATURE_REQUIRED: 'true', IM_MASTER_KEY: KEY, IM_APP_ID: APP } });

let n = 0;
function openSig(clientId: string, opts: { timestamp?: number; nonce?: string; key?: string } = {}) {
  const timestamp = opts.timestamp ?? Math.floor(Date.now() / 1000);
  const nonce = opts.nonce ?? `n${++n}`;
  return { signature: sign(opts.key ?? KEY, signedString(APP, 'open', clientId, { timestamp, nonce })), timestamp, nonce };
}

test('open: valid, upper-case hex, milliseconds; bad, missing, stale, replayed → 4102', async () => {
  const [Tom] = h.names('Tom');
  const c = h.track(await TestClient.connect(h.url));
  expect((await c.request('open', { clientId: Tom })).error).toMatchObject({ code: 4102, name: 'SIGNATURE_FAILED' });
  expect((await c.request('open', { clientId: Tom, signature: openSig(Tom, { key: 'wrong' }) })).error?.code).toBe(4102);
  const old = Math.floor(Date.now() / 1000) - 7 * 3600;
  expect((await c.request('open', { clientId: Tom, signature: openSig(Tom, { timestamp: old }) })).error?.code).toBe(4102);
  const sig = openSig(Tom);
  // Signed for another client.
  expect((await c.request('open', { clientId: `${Tom}x`, signature: sig })).error?.code).toBe(4102);
  expect((await c.request('open', { clientId: Tom, signature: { ...sig, signature: sig.signature.toUpperCase() } })).ok).toBe(true);
  const again = h.track(await TestClient.connect(h.url));
  expect((await again.request('open', { clientId: Tom, signature: sig })).error?.message).toMatch(/already used/);
  const ms = openSig(Tom, { timestamp: Date.now() });
  expect((await again.request('open', { clientId: Tom, signature: ms })).ok).toBe(true);
});

test('create: members sorted in the signed string; a wrong one → 4302', async () => {
  const [Tom, Bob, Alex] = h.names('Tom', 'Bob', 'Alex');
  const c = h.track(await TestClient.open(h.url, Tom, { signature: openSig(Tom) }));
  const timestamp = Math.floor(Date.now() / 1000);
  const good = {
    signature: sign(KEY, signedString(APP, 'create', Tom, { members: [Bob, Alex], timestamp, nonce: 'c1' })),
    timestamp,
    nonce: 'c1',
  };
  expect(signedString(APP, 'create', Tom, { members: ['b', 'a'], timestamp: 1, nonce: 'x' })).toBe(`${APP}:${Tom}:a:b:1:x`);
  expect((await c.request('create', { members: [Bob] })).error).toMatchObject({ code: 4302, name: 'CONVERSATION_SIGNATURE_FAILED' });
  expect((await c.request('create', { members: [Bob], signature: good })).error?.code).toBe(4302);
  expect((await c.request('create', { members: [Alex, Bob], signature: good })).ok).toBe(true);
});

describe('key rotation and the sign CLI', () => {
  const r = useStack({
    env: { IM_LOG_LEVEL: 'silent', IM_SIGNATURE_REQUIRED: 'true', IM_MASTER_KEY: 'new-key', IM_MASTER_KEY_PREVIOUS: KEY, IM_APP_ID: APP },
  });

  test('signatures made with the previous key are still accepted during a rotation', async () => {
    const [Tom, Bob] = r.names('Tom', 'Bob');
    const old = r.track(await TestClient.connect(r.url));
    expect((await old.request('open', { clientId: Tom, signature: openSig(Tom) })).ok).toBe(true);
    const fresh = r.track(await TestClient.connect(r.url));
    expect((await fresh.request('open', { clientId: Bob, signature: openSig(Bob, { key: 'new-key' }) })).ok).toBe(true);
    const other = r.track(await TestClient.connect(r.url));
    expect((await other.request('open', { clientId: Bob, signature: openSig(Bob, { key: 'third-key' }) })).error?.code).toBe(4102);
  });

  test('npm run sign prints a signature the server accepts', async () => {
    const { execFileSync } = await import('node:child_process');
    const { join } = await import('node:path');
    const [Tom] = r.names('Tom');
    const out = execFileSync(process.execPath, ['--import', 'tsx', join(__dirname, '..', '..', 'bin', 'sign.ts'), 'open', Tom], {
      env: { ...process.env, IM_APP_ID: APP, IM_MASTER_KEY: 'new-key' },
    }).toString();
    const signature = JSON.parse(out) as { signature: string; timestamp: number; nonce: string };
    expect(signature.signature).toMatch(/^[0-9a-f]{40}$/);
    const c = r.track(await TestClient.connect(r.url));
    expect((await c.request('open', { clientId: Tom, signature })).ok).toBe(true);
  });
});
