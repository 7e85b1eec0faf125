/** `invite`: a member adds others (docs/protocol.md §6). */
import { inviteMembers } from '../domain/membership';
import { defineAction } from '../runtime/route';

export const { handle, handler } = defineAction('invite', { session: true, run: inviteMembers });
