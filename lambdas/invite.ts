/** `invite`: a member adds others (PROTOCOL.md §6). */
import { inviteMembers } from './core/membership';
import { defineAction } from './core/route';

export const { handle, handler } = defineAction('invite', { session: true, run: inviteMembers });
