/** `ping`: keep-alive; needs no session. */
import { defineAction } from '../runtime/route';

export const { handle, handler } = defineAction('ping', { session: false, run: async () => ({}) });
