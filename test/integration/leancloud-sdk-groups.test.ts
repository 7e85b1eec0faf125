/**
 * The LeanCloud JavaScript SDK's group and message APIs against the local stack: add/remove with
 * the SDK's events, conversation updates, typed (location) messages, receipts for SDK senders,
 * read on one device updating another, and history in both directions.
 */
import { TestClient } from '../helpers/client';
import { next, SDK_VERSIONS, useRealtime, type LcConversation, type LcMessage } from '../helpers/leancloud';
import { useStack } from '../helpers/stack';

const h = useStack();

describe.each(SDK_VERSIONS)('leancloud-realtime %s', (_version, sdk) => {
  const { TextMessage, TypedMessage, messageType, messageField, MessageQueryDirection } = sdk;
  const realtime = useRealtime(h, sdk);

  test('an SDK member adds and removes members; every party gets the SDK event it expects', async () => {
    const [Tom, Jerry, Alex] = h.names('Tom', 'Jerry', 'Alex');
    const tom = await realtime().createIMClient(Tom);
    const jerry = await realtime().createIMClient(Jerry);
    const alex = await realtime().createIMClient(Alex);
    const conv = await tom.createConversation({ members: [Jerry], name: 'crew' });

    const invited = next<[{ invitedBy: string }, LcConversation]>(alex, 'invited');
    const jerrySees = next<[{ members: string[]; invitedBy: string }]>(jerry, 'membersjoined');
    await conv.add([Alex]);
    const [invitation, alexConv] = await invited;
    expect(invitation.invitedBy).toBe(Tom);
    expect(alexConv.id).toBe(conv.id);
    expect((await jerrySees)[0]).toMatchObject({ members: [Alex], invitedBy: Tom });
    expect([...conv.members].sort()).toEqual([Alex, Jerry, Tom].sort());

    const kicked = next<[{ kickedBy: string }]>(alex, 'kicked');
    const jerrySeesLeave = next<[{ members: string[]; kickedBy: string }]>(jerry, 'membersleft');
    await conv.remove([Alex]);
    expect((await kicked)[0].kickedBy).toBe(Tom);
    expect((await jerrySeesLeave)[0]).toMatchObject({ members: [Alex], kickedBy: Tom });
    expect([...conv.members].sort()).toEqual([Jerry, Tom].sort());
    expect(await conv.count()).toBe(2);
  });

  test('conversation.save() updates name and attributes for SDK and native members alike', async () => {
    const [Tom, Jerry, Nat] = h.names('Tom', 'Jerry', 'Nat');
    const tom = await realtime().createIMClient(Tom);
    const jerry = await realtime().createIMClient(Jerry);
    const nat = h.track(await TestClient.open(h.url, Nat));
    // The creator is told it joined too; its SDK then re-reads the conversation, which must not
    // race with the update below.
    const creatorJoined = next(tom, 'invited');
    const conv = await tom.createConversation({ members: [Jerry, Nat], name: 'old name', attr: { color: 'red' } });
    const jerrysConv = await jerry.getConversation(conv.id);
    await creatorJoined;

    const updated = next<[{ attributes: Record<string, unknown>; updatedBy: string }, LcConversation]>(jerry, 'conversationinfoupdated');
    conv.set('name', 'new name');
    conv.set('attr.color', 'blue');
    await conv.save();
    expect(conv.name).toBe('new name');

    const [payload, updatedConv] = await updated;
    expect(payload.updatedBy).toBe(Tom);
    expect(updatedConv.id).toBe(conv.id);
    expect(jerrysConv.name).toBe('new name');
    expect(jerrysConv.get('attr')).toEqual({ color: 'blue' });

    expect(await nat.event('updated')).toMatchObject({ cid: conv.id, by: Tom, name: 'new name', attributes: { attr: { color: 'blue' } } });

    // A client that never saw the conversation reads the stored state.
    const fresh = await (await realtime().createIMClient(Nat)).getConversation(conv.id);
    expect(fresh.name).toBe('new name');
    expect(fresh.get('attr')).toEqual({ color: 'blue' });
    await expect(conv.set('m', []).save()).rejects.toThrow(/UNPARSEABLE_RAW_MESSAGE|cannot be updated/);
  });

  test('typed messages: a location message (type -5) between SDK clients and as a native client sees it', async () => {
    const [Tom, Jerry, Nat] = h.names('Tom', 'Jerry', 'Nat');
    // What the typed-messages plugin's LocationMessage is, built with the SDK's own decorators
    // (the plugin itself needs leancloud-storage for AV.GeoPoint).
    class LocationMessage extends (TypedMessage as new () => { _lcloc?: object }) {
      constructor(location?: { latitude: number; longitude: number }) {
        super();
        if (location) this._lcloc = location;
      }
      get location() {
        return this._lcloc as { latitude: number; longitude: number };
      }
    }
    // The SDK's decorators modify the class in place.
    messageField(['_lcloc'])(LocationMessage);
    messageType(-5)(LocationMessage);
    const Location = LocationMessage;
    const tomRt = realtime();
    const jerryRt = realtime();
    tomRt.register(Location);
    jerryRt.register(Location);
    const tom = await tomRt.createIMClient(Tom);
    const jerry = await jerryRt.createIMClient(Jerry);
    const nat = h.track(await TestClient.open(h.url, Nat));
    const conv = await tom.createConversation({ members: [Jerry, Nat] });

    const got = next<[LcMessage & { location?: unknown; text?: string }]>(jerry, 'message');
    const message = new Location({ latitude: 31.2304, longitude: 121.4737 }) as unknown as { setText(t: string): void };
    message.setText('the office');
    await conv.send(message);
    const [received] = await got;
    expect(received).toBeInstanceOf(Location);
    expect(received.location).toEqual({ latitude: 31.2304, longitude: 121.4737 });
    expect(received.text).toBe('the office');

    const ev = await nat.event('message');
    expect(JSON.parse((ev.message as { data: string }).data)).toEqual({
      _lctype: -5,
      _lctext: 'the office',
      _lcloc: { latitude: 31.2304, longitude: 121.4737 },
    });
    // And the other way: a native location reaches the SDK as a LocationMessage.
    const fromNative = next<[LcMessage & { location?: unknown }]>(jerry, 'message');
    await nat.ok('send', { cid: conv.id, data: JSON.stringify({ _lctype: -5, _lcloc: { latitude: 1, longitude: 2 } }) });
    const [native] = await fromNative;
    expect(native).toBeInstanceOf(Location);
    expect(native.location).toEqual({ latitude: 1, longitude: 2 });
  });

  test('receipts: an SDK sender learns its message was delivered (when it asked) and read', async () => {
    const [Tom, Jerry] = h.names('Tom', 'Jerry');
    const tom = await realtime().createIMClient(Tom);
    const jerry = await realtime().createIMClient(Jerry);
    const conv = await tom.createConversation({ members: [Jerry] });
    const delivered = next(conv, 'lastdeliveredatupdate');
    const got = next<[LcMessage]>(jerry, 'message');
    const sent = await conv.send(new TextMessage('ping'), { receipt: true });
    expect((await got)[0].id).toBe(sent.id);
    // Jerry's SDK acks by time range; the server turns that into rcp for Tom.
    await delivered;
    expect(conv.lastDeliveredAt!.getTime()).toBeGreaterThanOrEqual(sent.timestamp.getTime());
    // Jerry reads: Tom learns how far (one-to-one conversations).
    const read = next(conv, 'lastreadatupdate');
    await (await jerry.getConversation(conv.id)).read();
    await read;
    expect((conv as LcConversation & { lastReadAt?: Date }).lastReadAt!.getTime()).toBe(sent.timestamp.getTime());
  });

  test("read on one device sets the conversation's unread count to 0 on the client's other devices", async () => {
    const [Tom, Jerry] = h.names('Tom', 'Jerry');
    const tom = h.track(await TestClient.open(h.url, Tom));
    const cid = ((await tom.ok('create', { members: [Jerry] })).conversation as { cid: string }).cid;
    const phone = await realtime().createIMClient(Jerry);
    const laptop = await realtime().createIMClient(Jerry);
    const phoneConv = await phone.getConversation(cid);
    const arrived = next(laptop, 'message');
    for (const text of ['a', 'b']) await tom.ok('send', { cid, data: JSON.stringify({ _lctype: -1, _lctext: text }) });
    await arrived;
    const zero = new Promise<LcConversation[]>((resolve) =>
      phone.on('unreadmessagescountupdate', (convs) => {
        const list = convs as LcConversation[];
        if (list.some((c) => c.id === cid && c.unreadMessagesCount === 0)) resolve(list);
      }),
    );
    await (await laptop.getConversation(cid)).read();
    await zero;
    expect(phoneConv.unreadMessagesCount).toBe(0);
  });

  test('history in both directions: newest first by default, OLD_TO_NEW from the start or a message', async () => {
    const [Tom, Jerry] = h.names('Tom', 'Jerry');
    const tom = await realtime().createIMClient(Tom);
    const conv = await tom.createConversation({ members: [Jerry] });
    for (const t of ['1', '2', '3', '4', '5']) await conv.send(new TextMessage(t));
    const texts = (ms: LcMessage[]) => ms.map((m) => m.text);

    expect(texts(await conv.queryMessages({ limit: 2 }))).toEqual(['4', '5']);
    const first = await conv.queryMessages({ limit: 2, direction: MessageQueryDirection.OLD_TO_NEW });
    expect(texts(first)).toEqual(['1', '2']);
    const last = first[1]!;
    const after = await conv.queryMessages({
      limit: 2,
      direction: MessageQueryDirection.OLD_TO_NEW,
      startTime: last.timestamp,
      startMessageId: last.id,
    });
    expect(texts(after)).toEqual(['3', '4']);
    // startClosed includes the start message; an end bound stops the page.
    const closed = await conv.queryMessages({
      direction: MessageQueryDirection.OLD_TO_NEW,
      startTime: last.timestamp,
      startMessageId: last.id,
      startClosed: true,
      endTime: after[1]!.timestamp,
      endMessageId: after[1]!.id,
    });
    expect(texts(closed)).toEqual(['2', '3']);
    expect(await conv.queryMessages({ limit: 0 })).toEqual([]);
  });

  test('receipt timestamps (fetchReceiptTimestamps), online status (ping) and queries with last messages or compact', async () => {
    const [Tom, Jerry, Ghost] = h.names('Tom', 'Jerry', 'Ghost');
    const tom = await realtime().createIMClient(Tom);
    const jerry = await realtime().createIMClient(Jerry);
    const conv = await tom.createConversation({ members: [Jerry] });
    const got = next<[LcMessage]>(jerry, 'message');
    const delivered = next(conv, 'lastdeliveredatupdate');
    const sent = await conv.send(new TextMessage('read me'), { receipt: true });
    await got;

    // Jerry's SDK acks within a second; then reads. Another device of Tom's asks for both points.
    await delivered;
    await (await jerry.getConversation(conv.id)).read();
    const fresh = await (await realtime().createIMClient(Tom)).getConversation(conv.id);
    const withReceipts = fresh as LcConversation & { fetchReceiptTimestamps(): Promise<unknown>; lastReadAt?: Date };
    await withReceipts.fetchReceiptTimestamps();
    expect(withReceipts.lastDeliveredAt!.getTime()).toBe(sent.timestamp.getTime());
    expect(withReceipts.lastReadAt!.getTime()).toBe(sent.timestamp.getTime());

    const pinger = tom as typeof tom & { ping(ids: string[]): Promise<string[]> };
    expect((await pinger.ping([Jerry, Ghost])).sort()).toEqual([Jerry]);

    type Query = {
      equalTo(k: string, v: unknown): Query;
      withLastMessagesRefreshed(b?: boolean): Query;
      compact(b?: boolean): Query;
      find(): Promise<(LcConversation & { lastMessage?: LcMessage })[]>;
    };
    const query = () => (tom as typeof tom & { getQuery(): Query }).getQuery().equalTo('objectId', conv.id);
    const [withLast] = await query().withLastMessagesRefreshed(true).find();
    expect(withLast!.lastMessage).toMatchObject({ id: sent.id, from: Tom, text: 'read me' });
    const [compact] = await query().compact(true).find();
    expect(compact!.members).toEqual([]);
  });

  test('conversation.update() and recall(): the other side gets messageupdate and messagerecall; history follows', async () => {
    const [Tom, Jerry, Nat] = h.names('Tom', 'Jerry', 'Nat');
    const tom = await realtime().createIMClient(Tom);
    const jerry = await realtime().createIMClient(Jerry);
    const nat = h.track(await TestClient.open(h.url, Nat));
    const conv = (await tom.createConversation({ members: [Jerry, Nat] })) as LcConversation & {
      update(m: LcMessage, n: object): Promise<LcMessage>;
      recall(m: LcMessage): Promise<LcMessage>;
    };
    const got = next<[LcMessage]>(jerry, 'message');
    const sent = await conv.send(new TextMessage('helo'));
    await got;

    const updated = next<[LcMessage & { updatedAt?: Date }]>(jerry, 'messageupdate');
    await conv.update(sent, new TextMessage('hello'));
    const [edit] = await updated;
    expect(edit).toMatchObject({ id: sent.id, text: 'hello' });
    expect(edit.updatedAt!.getTime()).toBeGreaterThan(sent.timestamp.getTime());
    expect((await nat.event('messageUpdated')).message).toMatchObject({
      id: sent.id,
      data: JSON.stringify({ _lctext: 'hello', _lctype: -1 }),
    });

    const recalled = next<[LcMessage & { type?: number }]>(jerry, 'messagerecall');
    await conv.recall(sent);
    expect((await recalled)[0]).toMatchObject({ id: sent.id, type: -127 });
    const [inHistory] = (await (await jerry.getConversation(conv.id)).queryMessages({ limit: 1 })) as (LcMessage & { type?: number })[];
    expect(inHistory).toMatchObject({ id: sent.id, type: -127 });
  });

  test('mentions: mentionList and mentionAll reach SDK and native members; unread at login says mentioned', async () => {
    const [Tom, Jerry, Nat] = h.names('Tom', 'Jerry', 'Nat');
    const tom = await realtime().createIMClient(Tom);
    const jerry = await realtime().createIMClient(Jerry);
    const nat = h.track(await TestClient.open(h.url, Nat));
    const conv = await tom.createConversation({ members: [Jerry, Nat] });
    type Mentioning = { setMentionList(ids: string[]): Mentioning; mentionAll(): Mentioning };
    const got = next<[LcMessage & { mentioned: boolean; mentionList: string[] }]>(jerry, 'message');
    await conv.send((new TextMessage('@Jerry hi') as unknown as Mentioning).setMentionList([Jerry]));
    const [received] = await got;
    expect(received.mentioned).toBe(true);
    expect(received.mentionList).toEqual([Jerry]);
    expect((await nat.event('message')).message).toMatchObject({ mentions: [Jerry] });

    // Nat, offline, is mentioned by everyone-mention; at its SDK login the conversation says so.
    await nat.close();
    await h.stack.gateway.drain();
    await conv.send((new TextMessage('@all') as unknown as Mentioning).mentionAll());
    const counts = new Promise<(LcConversation & { unreadMessagesMentioned: boolean })[]>((resolve) => {
      void realtime()
        .createIMClient(Nat)
        .then((c) =>
          c.on('unreadmessagescountupdate', (convs) => resolve(convs as (LcConversation & { unreadMessagesMentioned: boolean })[])),
        );
    });
    const mine = (await counts).find((c) => c.id === conv.id)!;
    expect(mine.unreadMessagesCount).toBe(2);
    expect(mine.unreadMessagesMentioned).toBe(true);
  });

  test('transient messages and pushData pass through; history by type; an unsupported feature gets an error reply', async () => {
    const [Tom, Jerry] = h.names('Tom', 'Jerry');
    const tom = await realtime().createIMClient(Tom);
    const jerry = await realtime().createIMClient(Jerry);
    const conv = await tom.createConversation({ members: [Jerry] });

    const typing = next<[LcMessage]>(jerry, 'message');
    await conv.send(new TextMessage('typing…'), { transient: true });
    expect((await typing)[0].text).toBe('typing…');
    await conv.send(new TextMessage('with push data'), { pushData: { alert: 'custom alert', badge: 'Increment' } });
    // The transient one was never stored.
    expect((await conv.queryMessages({ limit: 10 })).map((m) => m.text)).toEqual(['with push data']);

    const withTemp = tom as typeof tom & {
      createTemporaryConversation(o: object): Promise<unknown>;
    };
    // The server's error reply, not the SDK's own 20 s COMMAND_TIMEOUT.
    await expect(withTemp.createTemporaryConversation({ members: [Jerry] })).rejects.toMatchObject({
      code: 4114,
      message: expect.stringMatching(/UNPARSEABLE_RAW_MESSAGE|not supported/),
    });
    // History by type: only the text messages (the SDK's TextMessage is -1).
    expect((await conv.queryMessages({ type: -1, limit: 10 })).map((m) => m.text)).toEqual(['with push data']);
  });

  test('getConversations looks up more conversations than one find page holds', async () => {
    const [Tom, Nat] = h.names('Tom', 'Nat');
    const nat = h.track(await TestClient.open(h.url, Nat));
    const cids: string[] = [];
    for (let i = 0; i < 105; i++) cids.push(((await nat.ok('create', { members: [Tom] })).conversation as { cid: string }).cid);
    const tom = (await realtime().createIMClient(Tom)) as Awaited<ReturnType<ReturnType<typeof realtime>['createIMClient']>> & {
      getConversations(ids: string[]): Promise<(LcConversation | null)[]>;
    };
    const found = await tom.getConversations(cids);
    expect(found.map((c) => c?.id)).toEqual(cids);
  });
});
