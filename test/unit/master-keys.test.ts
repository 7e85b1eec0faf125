/** Master keys from Secrets Manager: read once, cached, rotation form, failures not cached. */
import { envMasterKeys, secretMasterKeys } from '../../lambdas/gateways/master-keys';
import { configFromEnv } from '../../lambdas/runtime/config';

test('a plain secret string is the key; it is fetched once per container', async () => {
  let calls = 0;
  const keys = secretMasterKeys('arn:secret', async (id) => {
    calls++;
    expect(id).toBe('arn:secret');
    return 'plain-key';
  });
  expect(await keys()).toEqual(['plain-key']);
  expect(await keys()).toEqual(['plain-key']);
  expect(calls).toBe(1);
});

test('during a rotation the secret holds current and previous keys', async () => {
  const keys = secretMasterKeys('s', async () => JSON.stringify({ current: 'new', previous: 'old' }));
  expect(await keys()).toEqual(['new', 'old']);
  expect(await secretMasterKeys('s', async () => JSON.stringify({ current: 'only' }))()).toEqual(['only']);
});

test('a failed read is retried on the next request, not cached', async () => {
  let calls = 0;
  const keys = secretMasterKeys('s', async () => {
    if (++calls === 1) throw new Error('throttled');
    return 'k';
  });
  await expect(keys()).rejects.toThrow('throttled');
  expect(await keys()).toEqual(['k']);
});

test('locally the keys come from IM_MASTER_KEY and IM_MASTER_KEY_PREVIOUS', async () => {
  expect(await envMasterKeys(configFromEnv({ IM_MASTER_KEY: 'a', IM_MASTER_KEY_PREVIOUS: 'b' }))()).toEqual(['a', 'b']);
  expect(await envMasterKeys(configFromEnv({}))()).toEqual([]);
});
