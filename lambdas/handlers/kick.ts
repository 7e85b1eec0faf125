/** `kick`: the creator (or, with IM_KICK_POLICY=member, any member) removes others (docs/protocol.md §6). */
import { kickMembers } from '../domain/membership';
import { defineAction } from '../runtime/route';

export const { handle, handler } = defineAction('kick', { session: true, run: kickMembers });
