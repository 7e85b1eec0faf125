/** Single-device login (docs/protocol.md §5): who a login with a tag replaces, tells `closed`, or is refused by. */
import { planTagConflicts } from '../../../lambdas/domain/sessions';
import type { LiveConnection } from '../../../lambdas/stores/presence';

const conn = (connectionId: string, fields: Partial<LiveConnection> = {}): LiveConnection => ({
  connectionId,
  expiresAt: 2_000_000_000,
  ...fields,
});

test('without a tag nothing conflicts, whatever else is live', () => {
  const live = [conn('a', { tag: 'mobile' }), conn('b')];
  expect(planTagConflicts('me', {}, live)).toEqual({ refused: false, replaced: [] });
  expect(planTagConflicts('me', { reconnect: true, deviceId: 'd' }, live)).toEqual({ refused: false, replaced: [] });
});

test('another device holding the tag is told closed (4111) and replaced', () => {
  const other = conn('a', { tag: 'mobile', deviceId: 'phone-1' });
  expect(planTagConflicts('me', { tag: 'mobile', deviceId: 'phone-2' }, [other])).toEqual({
    refused: false,
    replaced: [{ connection: other, notify: true }],
  });
});

test('the same device (same non-empty deviceId) is replaced silently', () => {
  const same = conn('a', { tag: 'mobile', deviceId: 'phone-1' });
  expect(planTagConflicts('me', { tag: 'mobile', deviceId: 'phone-1' }, [same])).toEqual({
    refused: false,
    replaced: [{ connection: same, notify: false }],
  });
});

test('without a deviceId no connection counts as the same device', () => {
  const noDevice = conn('a', { tag: 'mobile' });
  const withDevice = conn('b', { tag: 'mobile', deviceId: 'phone-1' });
  expect(planTagConflicts('me', { tag: 'mobile' }, [noDevice, withDevice])).toEqual({
    refused: false,
    replaced: [
      { connection: noDevice, notify: true },
      { connection: withDevice, notify: true },
    ],
  });
});

test('only connections holding the same tag conflict; the opening connection never conflicts with itself', () => {
  const self = conn('me', { tag: 'mobile', deviceId: 'phone-9' });
  const otherTag = conn('a', { tag: 'desktop' });
  const untagged = conn('b');
  expect(planTagConflicts('me', { tag: 'mobile', reconnect: true }, [self, otherTag, untagged])).toEqual({
    refused: false,
    replaced: [],
  });
});

test('an automatic reconnect is refused while another device holds the tag', () => {
  const other = conn('a', { tag: 'mobile', deviceId: 'phone-1' });
  expect(planTagConflicts('me', { tag: 'mobile', deviceId: 'phone-2', reconnect: true }, [other])).toEqual({ refused: true });
  // One other device among same-device holders is enough to refuse.
  const same = conn('b', { tag: 'mobile', deviceId: 'phone-2' });
  expect(planTagConflicts('me', { tag: 'mobile', deviceId: 'phone-2', reconnect: true }, [same, other])).toEqual({ refused: true });
});

test('an automatic reconnect of the same device replaces its old connection silently', () => {
  const same = conn('a', { tag: 'mobile', deviceId: 'phone-1', protocol: 'leancloud' });
  expect(planTagConflicts('me', { tag: 'mobile', deviceId: 'phone-1', reconnect: true }, [same])).toEqual({
    refused: false,
    replaced: [{ connection: same, notify: false }],
  });
});
